import { parseStoredRecord } from '../sessions/session-record.js';
import type { SessionStore } from './session-store.js';

/** The part of a Workers KV namespace binding the store uses. */
export interface KvNamespaceLike {
  get(key: string, type: 'text'): Promise<string | null>;
  put(key: string, value: string, options?: { expirationTtl?: number }): Promise<void>;
  delete(key: string): Promise<void>;
}

export interface KvStoreOptions {
  namespace: KvNamespaceLike;
  /** Prefix of every key, to share a namespace. */
  prefix?: string;
  now?: () => number;
}

/** KV's shortest expiration, in seconds. */
const minimumTtl = 60;

/**
 * Sessions in Workers KV, as JSON. KV expires keys no sooner than a minute and only roughly, so the
 * record's own expiry is stored with it and checked on every read; KV's expiration cleans up later.
 * KV is eventually consistent and has no compare-and-set: `ifRevision` is not checked here
 * (`atomicRevisions: false`); on Workers each session's Durable Object is its only writer, and
 * checks revisions in its memory (see README on what holds on Workers). Keeps no event log.
 */
export function createKvStore(options: KvStoreOptions): SessionStore {
  const { namespace } = options;
  const prefix = options.prefix ?? 'session:';
  const now = options.now ?? Date.now;
  const defaultKey = `${prefix}default`;

  return {
    async get(id) {
      const text = await namespace.get(prefix + id, 'text');
      if (text === null) return undefined;
      const stored = JSON.parse(text) as { expires_at: number; record: unknown };
      if (stored.expires_at <= now()) return undefined;
      return parseStoredRecord(stored.record);
    },
    async put(record, { ttlMilliseconds }) {
      const value = JSON.stringify({ expires_at: now() + ttlMilliseconds, record });
      await namespace.put(prefix + record.id, value, {
        expirationTtl: Math.max(minimumTtl, Math.ceil(ttlMilliseconds / 1000)),
      });
    },
    async delete(id) {
      await namespace.delete(prefix + id);
    },
    async getDefaultSessionId() {
      return (await namespace.get(defaultKey, 'text')) ?? undefined;
    },
    async setDefaultSessionId(id) {
      await namespace.put(defaultKey, id);
    },
    atomicRevisions: false,
  };
}
