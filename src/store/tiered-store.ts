import { AppError } from '../errors.js';
import type { SessionStore } from './session-store.js';

const unlessFull = (error: unknown) => {
  if (!(error instanceof AppError && error.code === 'too_many_sessions')) throw error;
};

/**
 * A fast store in front of a durable one: reads come from `near` when it has the record, else from
 * `far` (and are kept near when it has room); writes go to both, so a full `near` refuses new
 * sessions. Revisions are checked near. For a single writer per session, such as a Durable
 * Object in front of KV, reads never wait on the far store after the first.
 */
export function createTieredStore(near: SessionStore, far: SessionStore): SessionStore {
  return {
    async get(id) {
      const cached = await near.get(id);
      if (cached) return cached;
      const stored = await far.get(id);
      // Kept near for a minute at least (when there is room); every later put refreshes it with the real ttl.
      if (stored) await near.put(stored, { ttlMilliseconds: 60_000 }).catch(unlessFull);
      return stored;
    },
    async put(record, options) {
      // The near store checks the revision; the far one takes what passed (it may not hold it yet).
      await near.put(record, options);
      await far.put(record, { ttlMilliseconds: options.ttlMilliseconds });
    },
    async delete(id) {
      await near.delete(id);
      await far.delete(id);
    },
    getDefaultSessionId: () => far.getDefaultSessionId(),
    async setDefaultSessionId(id) {
      await far.setDefaultSessionId(id);
    },
    // Checked in the near store: atomic when this store is its sessions' only writer (a Durable Object).
    atomicRevisions: near.atomicRevisions,
    ...(far.events ? { events: far.events } : {}),
  };
}
