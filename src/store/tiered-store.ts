import type { SessionStore } from './session-store.js';

/**
 * A fast store in front of a durable one: reads come from `near` when it has the record, else from
 * `far` (and are kept near); writes go to both. For a single writer per session, such as a Durable
 * Object in front of KV, reads never wait on the far store after the first.
 */
export function createTieredStore(near: SessionStore, far: SessionStore): SessionStore {
  return {
    async get(id) {
      const cached = await near.get(id);
      if (cached) return cached;
      const stored = await far.get(id);
      // Kept near for a minute at least; every later put refreshes it with the real ttl.
      if (stored) await near.put(stored, { ttlMilliseconds: 60_000 });
      return stored;
    },
    async put(record, options) {
      await near.put(record, options);
      await far.put(record, options);
    },
    async delete(id) {
      await near.delete(id);
      await far.delete(id);
    },
    getDefaultSessionId: () => far.getDefaultSessionId(),
    async setDefaultSessionId(id) {
      await far.setDefaultSessionId(id);
    },
  };
}
