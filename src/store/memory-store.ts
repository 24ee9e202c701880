import { pendingCallsOf } from '../approvals/pending-call.js';
import { AppError } from '../errors.js';
import type { SessionRecord } from '../sessions/session-record.js';
import { assertRevision } from './revision.js';
import type { SessionStore } from './session-store.js';

export interface MemoryStoreOptions {
  now?: () => number;
  /** Most sessions kept; a new one more is refused with `too_many_sessions` (default 10,000). */
  maxSessions?: number;
}

/**
 * A copy that shares no mutable state with `record`, in time independent of the history's length:
 * messages are never changed once in a history (the SessionStore contract), so the array is copied
 * and its messages shared; the small mutable parts are copied whole.
 */
function copy(record: SessionRecord): SessionRecord {
  return {
    ...record,
    messages: record.messages.slice(),
    usage: { ...record.usage },
    turn: record.turn && structuredClone(record.turn),
    recent_calls: record.recent_calls.slice(),
    grants: record.grants.slice(),
    ...(record.audit ? { audit: record.audit.slice() } : {}),
  };
}

/**
 * Sessions in this process's memory. Expired records are dropped when read and swept on writes:
 * no timers. Records are not validated on the way out: they never left the process. When full, a
 * new session is refused rather than an old one dropped: any record may hold a conversation
 * someone comes back to, a turn, pending approvals or a followed stream, none of which a flood of
 * new sessions may take away.
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): SessionStore {
  const now = options.now ?? Date.now;
  const maxSessions = options.maxSessions ?? 10_000;
  const records = new Map<string, { record: SessionRecord; expiresAt: number }>();
  let defaultSessionId: string | undefined;
  let writes = 0;

  const sweep = () => {
    const time = now();
    for (const [id, entry] of records) if (entry.expiresAt <= time) records.delete(id);
  };

  // A Map keeps insertion order, and a put moves its key to the end: the first entry is the
  // session saved longest ago, the first to expire.
  const makeRoom = () => {
    const time = now();
    for (const [id, entry] of records) {
      if (entry.expiresAt > time) break;
      records.delete(id);
    }
    if (records.size < maxSessions) return;
    const [oldest] = records.values();
    const seconds = Math.max(1, Math.ceil((oldest.expiresAt - time) / 1000));
    throw new AppError(
      'too_many_sessions',
      `The server holds its most sessions (${maxSessions}, --max-sessions); try again when one expires.`,
      { retry_after_seconds: seconds },
    );
  };

  const live = function* () {
    const time = now();
    for (const { record, expiresAt } of records.values()) if (expiresAt > time) yield record;
  };

  return {
    async get(id) {
      const entry = records.get(id);
      if (!entry) return undefined;
      if (entry.expiresAt <= now()) {
        records.delete(id);
        return undefined;
      }
      return copy(entry.record);
    },
    async put(record, { ttlMilliseconds, ifRevision }) {
      const stored = records.get(record.id);
      if (stored && stored.expiresAt > now() && ifRevision !== undefined) {
        assertRevision(record.id, stored.record.revision, ifRevision);
      }
      if (!records.delete(record.id) && records.size >= maxSessions) makeRoom();
      records.set(record.id, { record: copy(record), expiresAt: now() + ttlMilliseconds });
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
    // The check and the write run with no await between them: one step in this process.
    atomicRevisions: true,
    approvals: {
      async pending() {
        return structuredClone([...live()].flatMap(pendingCallsOf));
      },
      async audit() {
        return structuredClone([...live()].flatMap((record) => record.audit ?? []));
      },
    },
  };
}
