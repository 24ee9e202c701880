import { z } from 'zod';
import { auditEntrySchema } from '../approvals/audit-entry.js';
import { approvalIndexTexts, pendingCallSchema } from '../approvals/pending-call.js';
import { AppError } from '../errors.js';
import { parseStoredRecord, sessionRecordSchema } from '../sessions/session-record.js';
import { loggedEvents } from './logged-events.js';
import { assertRevision } from './revision.js';
import type { LoggedBatch, SessionStore } from './session-store.js';
import { type SqliteDatabase, storeFailure } from './sqlite-database.js';

export interface SqliteStoreOptions {
  /** An open connection. Its opener sets the PRAGMAs (journal mode, locking) and closes it. */
  database: SqliteDatabase;
  now?: () => number;
  /** Most sessions kept; a new one more is refused with `too_many_sessions` (default 10,000). */
  maxSessions?: number;
}

/**
 * The schema, one step per version: step n takes a database from `PRAGMA user_version` n to n + 1.
 * Add steps at the end; never change one that shipped.
 */
const migrations: Array<string | ((database: SqliteDatabase) => void)> = [
  `CREATE TABLE sessions (
     id TEXT PRIMARY KEY,
     revision INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     record TEXT NOT NULL
   );
   CREATE INDEX sessions_by_expiry ON sessions (expires_at);
   CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE events (
     session_id TEXT NOT NULL,
     sequence INTEGER NOT NULL,
     first INTEGER NOT NULL,
     last INTEGER NOT NULL,
     frames TEXT NOT NULL,
     PRIMARY KEY (session_id, first)
   );`,
  // What the approver inbox and the audit trail query across sessions (`approvalIndexTexts`).
  (database) => {
    database.exec(
      `ALTER TABLE sessions ADD COLUMN pending TEXT;
       ALTER TABLE sessions ADD COLUMN audit TEXT;
       CREATE INDEX sessions_with_pending ON sessions (expires_at) WHERE pending IS NOT NULL;
       CREATE INDEX sessions_with_audit ON sessions (expires_at) WHERE audit IS NOT NULL;`,
    );
    // Calls that waited before the column existed wait in the inbox too.
    const waiting = database.prepare(`SELECT id, record FROM sessions WHERE record LIKE '%"status":"pending"%'`);
    const index = database.prepare('UPDATE sessions SET pending = ? WHERE id = ?');
    for (const row of waiting.all() as { id: string; record: string }[]) {
      const parsed = sessionRecordSchema.safeParse(JSON.parse(row.record));
      const pending = parsed.success ? approvalIndexTexts(parsed.data).pending : undefined;
      if (pending) index.run(pending, row.id);
    }
  },
];

const pendingCallsSchema = z.array(pendingCallSchema);
const auditEntriesSchema = z.array(auditEntrySchema);

/** Writes between two sweeps of expired sessions. */
const sweepInterval = 100;

/**
 * Runs `work` in a write transaction taken at once (BEGIN IMMEDIATE): no other connection writes
 * between its reads and its writes. When `work` throws, nothing it did is kept.
 */
function inTransaction<T>(database: SqliteDatabase, work: () => T): T {
  database.exec('BEGIN IMMEDIATE');
  try {
    const result = work();
    database.exec('COMMIT');
    return result;
  } catch (error) {
    // SQLite may have rolled back already (SQLITE_FULL does); the first error is the one to report.
    if (database.inTransaction) {
      try {
        database.exec('ROLLBACK');
      } catch {}
    }
    throw error;
  }
}

/** Brings the schema to the latest version; refuses a database a newer server wrote. */
function migrate(database: SqliteDatabase) {
  inTransaction(database, () => {
    const { user_version: version } = database.prepare('PRAGMA user_version').get() as { user_version: number };
    if (version > migrations.length) {
      throw new AppError(
        'store_unavailable',
        `the database has schema version ${version}, written by a newer llm-chat-server (this one knows up to ${migrations.length})`,
      );
    }
    for (let step = version; step < migrations.length; step += 1) {
      const migration = migrations[step];
      if (typeof migration === 'string') database.exec(migration);
      else migration(database);
    }
    if (version < migrations.length) database.exec(`PRAGMA user_version = ${migrations.length}`);
  });
}

/**
 * Sessions in a SQLite database: one row per session (the record as JSON, its revision and
 * expiry), the default session id, and the latest turn's event log. Every save is one
 * transaction, so a compare-and-set holds across connections and a failed save changes nothing.
 * Expired rows are hidden on read and deleted by an indexed sweep every few writes. SQLite
 * failures become `store_unavailable` (503).
 */
export function createSqliteStore(options: SqliteStoreOptions): SessionStore {
  const { database } = options;
  const now = options.now ?? Date.now;
  const maxSessions = options.maxSessions ?? 10_000;
  migrate(database);

  const statement = (sql: string) => database.prepare(sql);
  const readRecord = statement('SELECT record FROM sessions WHERE id = ? AND expires_at > ?');
  const readHeld = statement('SELECT revision, expires_at FROM sessions WHERE id = ?');
  const countSessions = statement('SELECT count(*) AS count FROM sessions');
  const firstExpiry = statement('SELECT min(expires_at) AS expires_at FROM sessions');
  const saveRecord = statement(
    `INSERT INTO sessions (id, revision, expires_at, record, pending, audit) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (id) DO UPDATE SET revision = excluded.revision, expires_at = excluded.expires_at,
       record = excluded.record, pending = excluded.pending, audit = excluded.audit`,
  );
  const readPending = statement('SELECT pending FROM sessions WHERE pending IS NOT NULL AND expires_at > ?');
  const readAudit = statement('SELECT audit FROM sessions WHERE audit IS NOT NULL AND expires_at > ?');
  const deleteRecord = statement('DELETE FROM sessions WHERE id = ?');
  const sweepEvents = statement(
    'DELETE FROM events WHERE session_id IN (SELECT id FROM sessions WHERE expires_at <= ?)',
  );
  const sweepRecords = statement('DELETE FROM sessions WHERE expires_at <= ?');
  const readMeta = statement('SELECT value FROM meta WHERE key = ?');
  const writeMeta = statement(
    'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
  );
  const loggedSequence = statement('SELECT sequence FROM events WHERE session_id = ? LIMIT 1');
  const deleteEvents = statement('DELETE FROM events WHERE session_id = ?');
  // A row per append: the frames of consecutive events, as they were sent (never encoded again).
  const appendEvents = statement(
    `INSERT INTO events (session_id, sequence, first, last, frames) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (session_id, first) DO UPDATE SET sequence = excluded.sequence, last = excluded.last, frames = excluded.frames`,
  );
  const readEvents = statement(
    'SELECT frames FROM events WHERE session_id = ? AND sequence = ? AND last > ? ORDER BY first',
  );
  let writes = 0;

  const guarded = <T>(action: string, work: () => T): T => {
    try {
      return work();
    } catch (error) {
      throw storeFailure(error, action);
    }
  };
  const transaction = <T>(action: string, work: () => T) => guarded(action, () => inTransaction(database, work));

  const sweep = (time: number) => {
    sweepEvents.run(time);
    sweepRecords.run(time);
  };

  // Counting every row is cheap in SQLite (no scan of the records); expired rows are swept only
  // when they are what fills the store.
  const makeRoom = (time: number) => {
    const count = () => (countSessions.get() as { count: number }).count;
    if (count() < maxSessions) return;
    sweep(time);
    if (count() < maxSessions) return;
    const oldest = (firstExpiry.get() as { expires_at: number }).expires_at;
    throw new AppError(
      'too_many_sessions',
      `The server holds its most sessions (${maxSessions}, --max-sessions); try again when one expires.`,
      { retry_after_seconds: Math.max(1, Math.ceil((oldest - time) / 1000)) },
    );
  };

  inTransaction(database, () => sweep(now()));

  /** Adds a batch to its turn's log, within the caller's transaction. */
  const appendBatch = ({ sessionId, sequence, events }: LoggedBatch) => {
    const first = events[0];
    const last = events.at(-1);
    if (!first || !last) return;
    const logged = loggedSequence.get(sessionId) as { sequence: number } | undefined;
    // The log holds one turn's events: a newer turn replaces it, an older one's are dropped.
    if (logged && logged.sequence > sequence) return;
    if (logged && logged.sequence < sequence) deleteEvents.run(sessionId);
    const frames = events.length === 1 ? first.frame : events.map((entry) => entry.frame).join('');
    appendEvents.run(sessionId, sequence, first.index, last.index, frames);
  };

  return {
    async get(id) {
      const row = guarded('read the session', () => readRecord.get(id, now())) as { record: string } | undefined;
      return row && parseStoredRecord(JSON.parse(row.record));
    },
    async put(record, { ttlMilliseconds, ifRevision }) {
      const text = JSON.stringify(record);
      const { pending, audit } = approvalIndexTexts(record);
      transaction('save the session', () => {
        const time = now();
        const held = readHeld.get(record.id) as { revision: number; expires_at: number } | undefined;
        const live = held !== undefined && held.expires_at > time;
        if (live && ifRevision !== undefined) assertRevision(record.id, held.revision, ifRevision);
        if (!live) makeRoom(time);
        writes += 1;
        if (writes % sweepInterval === 0) sweep(time);
        saveRecord.run(record.id, record.revision ?? 0, time + ttlMilliseconds, text, pending ?? null, audit ?? null);
      });
    },
    async delete(id) {
      transaction('delete the session', () => {
        deleteEvents.run(id);
        deleteRecord.run(id);
      });
    },
    async getDefaultSessionId() {
      const row = guarded('read the default session', () => readMeta.get('default_session_id'));
      return (row as { value: string } | undefined)?.value;
    },
    async setDefaultSessionId(id) {
      guarded('save the default session', () => writeMeta.run('default_session_id', id));
    },
    // Each save is one IMMEDIATE transaction: its revision check and write hold across connections.
    atomicRevisions: true,
    approvals: {
      async pending() {
        const rows = guarded('read the pending approvals', () => readPending.all(now())) as { pending: string }[];
        return rows.flatMap((row) => pendingCallsSchema.parse(JSON.parse(row.pending)));
      },
      async audit() {
        const rows = guarded('read the audit trail', () => readAudit.all(now())) as { audit: string }[];
        return rows.flatMap((row) => auditEntriesSchema.parse(JSON.parse(row.audit)));
      },
    },
    events: {
      async append(sessionId, sequence, events) {
        transaction('save the turn events', () => appendBatch({ sessionId, sequence, events }));
      },
      // One transaction for them all: a server's turns write their events together (one commit,
      // not one per turn, on every tick of the ticker).
      async appendMany(batches) {
        transaction('save the turn events', () => {
          for (const batch of batches) appendBatch(batch);
        });
      },
      async read(sessionId, sequence, after) {
        const rows = guarded('read the turn events', () => readEvents.all(sessionId, sequence, after)) as {
          frames: string;
        }[];
        return rows.flatMap((row) => loggedEvents(row.frames, after));
      },
    },
  };
}
