import { z } from 'zod';
import { auditEntrySchema } from '../approvals/audit-entry.js';
import { approvalIndexTexts, pendingCallSchema } from '../approvals/pending-call.js';
import { AppError } from '../errors.js';
import { parseStoredRecord } from '../sessions/session-record.js';
import { loggedEvents } from './logged-events.js';
import { type RedisConnection, type RedisReply, storeCommands } from './redis-connection.js';
import { redisKeys } from './redis-keys.js';
import { appendScript, deleteScript, putOutcome, putScript } from './redis-scripts.js';
import { assertRevision } from './revision.js';
import type { LoggedBatch, SessionStore } from './session-store.js';

export interface RedisStoreOptions {
  connection: RedisConnection;
  /** Prefix of every key, to share a Redis database (default `llm-chat-server:`). */
  prefix?: string;
  now?: () => number;
  /** Most sessions kept; a new one more is refused with `too_many_sessions` (default 10,000). */
  maxSessions?: number;
}

/** Batches of events a turn's log keeps (one per append: a step, a second of tokens, or 256 events). */
export const maxLoggedBatches = 10_000;

/** How long the log of a session that is not stored lives. */
const orphanLogTtl = 3_600_000;

const pendingCallsSchema = z.array(pendingCallSchema);
const auditEntriesSchema = z.array(auditEntrySchema);

const text = (reply: RedisReply | undefined) => (typeof reply === 'string' ? reply : undefined);

/**
 * Sessions in Redis, shared by every process that opens the same database. Each session is a hash
 * (its record as JSON, revision and expiry) with a Redis TTL, so Redis removes it when idle; the
 * expiry is also kept in the hash and checked on read against `now`, and in a sorted set of
 * sessions by expiry that counts them for `maxSessions`. A save is one Lua script: its revision
 * check, room check and write are atomic across processes. The default session id is a plain
 * key; a session's event log is a stream (one entry per batch of events) that expires with it,
 * and each batch logged is also published on the session's turn channel, for the servers that
 * follow the turn (`createRedisCoordinator`). Redis failures become `store_unavailable` (503).
 */
export function createRedisStore(options: RedisStoreOptions): SessionStore {
  const { connection } = options;
  const keys = redisKeys(options.prefix);
  const now = options.now ?? Date.now;
  const maxSessions = options.maxSessions ?? 10_000;
  const {
    session: sessionKey,
    events: eventsKey,
    sessions: indexKey,
    defaultSession: defaultKey,
    sessionsWithPending: withPendingKey,
    sessionsWithAudit: withAuditKey,
  } = keys;

  const { send, script } = storeCommands(connection);

  /** Every batch in one script: one round trip for the events of all of a server's turns at once. */
  async function appendMany(batches: readonly LoggedBatch[]) {
    const written = batches.filter((batch) => batch.events.length > 0);
    if (written.length === 0) return;
    const touched = written.flatMap(({ sessionId }) => [eventsKey(sessionId), sessionKey(sessionId)]);
    const values = written.flatMap(({ sessionId, sequence, events }) => {
      const frames = events.length === 1 ? events[0].frame : events.map((entry) => entry.frame).join('');
      return [sequence, events[events.length - 1].index, frames, keys.turnChannel(sessionId)];
    });
    await script('save the turn events', appendScript, touched, [maxLoggedBatches, orphanLogTtl, ...values]);
  }

  /**
   * The `field` texts of the live sessions in `setKey`, each hash read on its own (a script may
   * touch only the keys it is given); ids whose session is gone leave the set.
   */
  const indexed = async (action: string, setKey: string, field: string): Promise<string[]> => {
    const ids = await send(action, ['SMEMBERS', setKey]);
    const time = now();
    const texts = await Promise.all(
      (Array.isArray(ids) ? ids.map(text) : []).map(async (id) => {
        if (id === undefined) return undefined;
        const reply = await send(action, ['HMGET', sessionKey(id), 'expires_at', field]);
        const [expiresAt, value] = Array.isArray(reply) ? reply.map(text) : [];
        if (value !== undefined && Number(expiresAt) > time) return value;
        // Gone (Redis expired it) or expired by the store's clock: an expired one may still be
        // saved again, which adds it back.
        if (value === undefined) await send(action, ['SREM', setKey, id]);
        return undefined;
      }),
    );
    return texts.filter((value): value is string => value !== undefined);
  };

  return {
    async get(id) {
      const reply = await send('read the session', ['HMGET', sessionKey(id), 'expires_at', 'record']);
      const [expiresAt, record] = Array.isArray(reply) ? reply.map(text) : [];
      if (record === undefined || !(Number(expiresAt) > now())) return undefined;
      return parseStoredRecord(JSON.parse(record));
    },
    async put(record, { ttlMilliseconds, ifRevision }) {
      const time = now();
      const keys = [sessionKey(record.id), indexKey, eventsKey(record.id), withPendingKey, withAuditKey];
      const { pending, audit } = approvalIndexTexts(record);
      const reply = await script('save the session', putScript, keys, [
        record.id,
        JSON.stringify(record),
        record.revision ?? 0,
        time + ttlMilliseconds,
        ttlMilliseconds,
        ifRevision ?? '',
        time,
        maxSessions,
        pending ?? '',
        audit ?? '',
      ]);
      const [outcome, value] = reply as number[];
      if (outcome === putOutcome.conflict) assertRevision(record.id, value, ifRevision ?? 0);
      if (outcome === putOutcome.full) {
        throw new AppError(
          'too_many_sessions',
          `The server holds its most sessions (${maxSessions}, --max-sessions); try again when one expires.`,
          { retry_after_seconds: Math.max(1, Math.ceil((value - time) / 1000)) },
        );
      }
    },
    async delete(id) {
      const keys = [sessionKey(id), eventsKey(id), indexKey, withPendingKey, withAuditKey];
      await script('delete the session', deleteScript, keys, [id]);
    },
    async getDefaultSessionId() {
      return text(await send('read the default session', ['GET', defaultKey]));
    },
    async setDefaultSessionId(id) {
      await send('save the default session', ['SET', defaultKey, id]);
    },
    // Each save is one script, which Redis runs with no other command in between.
    atomicRevisions: true,
    approvals: {
      async pending() {
        const texts = await indexed('read the pending approvals', withPendingKey, 'pending');
        return texts.flatMap((value) => pendingCallsSchema.parse(JSON.parse(value)));
      },
      async audit() {
        const texts = await indexed('read the audit trail', withAuditKey, 'audit');
        return texts.flatMap((value) => auditEntriesSchema.parse(JSON.parse(value)));
      },
    },
    events: {
      append: (sessionId, sequence, events) => appendMany([{ sessionId, sequence, events }]),
      appendMany,
      async read(sessionId, sequence, after) {
        const reply = await send('read the turn events', ['XRANGE', eventsKey(sessionId), '-', '+']);
        const entries = (Array.isArray(reply) ? reply : []) as Array<[string, string[]]>;
        // Fields in the order appendScript wrote them: sequence, last, frames.
        return entries.flatMap(([, [, logged, , last, , frames]]) =>
          Number(logged) === sequence && Number(last) > after ? loggedEvents(frames, after) : [],
        );
      },
    },
  };
}
