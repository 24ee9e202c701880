import type { SessionRecord } from '../sessions/session-record.js';
import type { SessionStore } from './session-store.js';

export interface MemoryStoreOptions {
  now?: () => number;
}

/**
 * Sessions in this process's memory. Records are copied in and out so that callers never share
 * an object with the store. Expired records are dropped when read and swept on writes: no timers.
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): SessionStore {
  const now = options.now ?? Date.now;
  const records = new Map<string, { record: SessionRecord; expiresAt: number }>();
  let defaultSessionId: string | undefined;
  let writes = 0;

  const sweep = () => {
    const time = now();
    for (const [id, entry] of records) if (entry.expiresAt <= time) records.delete(id);
  };

  return {
    async get(id) {
      const entry = records.get(id);
      if (!entry) return undefined;
      if (entry.expiresAt <= now()) {
        records.delete(id);
        return undefined;
      }
      return structuredClone(entry.record);
    },
    async put(record, { ttlMilliseconds }) {
      records.delete(record.id);
      records.set(record.id, { record: structuredClone(record), expiresAt: now() + ttlMilliseconds });
      writes += 1;
      if (writes % 1000 === 0) sweep();
    },
    async delete(id) {
      records.delete(id);
    },
    async getDefaultSessionId() {
      return defaultSessionId;
    },
    async setDefaultSessionId(id) {
      defaultSessionId = id;
    },
  };
}
