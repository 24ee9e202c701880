import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'libsql';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/node/open-sqlite-store.js';
import type { TurnEventLog } from '../../src/store/session-store.js';
import { createSqliteStore } from '../../src/store/sqlite-store.js';
import { temporaryDirectory } from '../helpers/test-app.js';
import { loggedToken, raceDecisions, sampleRecord, sessionStoreContract } from './session-store-contract.js';

const directories: string[] = [];
const open: Array<{ close(): unknown }> = [];
afterEach(() => {
  for (const database of open.splice(0)) database.close();
});
afterAll(async () => {
  await Promise.all(directories.map((directory) => rm(directory, { recursive: true, force: true })));
});

async function dataDirectory() {
  const directory = await temporaryDirectory('llm-chat-server-sqlite-');
  directories.push(directory);
  return directory;
}

/**
 * The store as the server opens it (WAL, exclusive lock), on a manual clock. The lock lasts until
 * the process exits (libsql keeps a connection open while its statements live): one per directory.
 */
async function openStore(directory: string, options: { maxSessions?: number; now?: () => number } = {}) {
  const opened = await openSqliteStore({ directory, ...options });
  open.push(opened);
  return opened;
}

/** A plain connection (no exclusive lock): a test's second look at the file, or a second process. */
function connect(path: string) {
  const database = new Database(path);
  database.exec('PRAGMA journal_mode = WAL');
  database.exec('PRAGMA busy_timeout = 5000');
  open.push(database);
  return database;
}

sessionStoreContract('sqlite', { atomicRevisions: true, events: true, approvals: true }, async (limits) => {
  let time = 1_000_000;
  const { store } = await openStore(await dataDirectory(), { now: () => time, ...limits });
  return {
    store,
    advance: async (milliseconds) => {
      time += milliseconds;
    },
  };
});

const token = loggedToken;

describe('the SQLite store', () => {
  it('writes batches of several sessions in one transaction, each as an append of its own would', async () => {
    const database = connect(join(await dataDirectory(), 'sessions.db'));
    const store = createSqliteStore({ database });
    const log = store.events as TurnEventLog;
    await log.append('s2', 3, [token(0, 'newer turn')]);
    const statements: string[] = [];
    const exec = database.exec.bind(database);
    database.exec = (sql: string) => {
      statements.push(sql);
      return exec(sql);
    };
    await log.appendMany?.([
      { sessionId: 's1', sequence: 1, events: [token(0, 'a'), token(1, 'b')] },
      { sessionId: 's2', sequence: 2, events: [token(5, 'older turn')] },
      { sessionId: 's1', sequence: 1, events: [token(2, 'c')] },
    ]);
    expect(statements).toEqual(['BEGIN IMMEDIATE', 'COMMIT']);
    expect(await log.read('s1', 1, -1)).toEqual([token(0, 'a'), token(1, 'b'), token(2, 'c')]);
    expect(await log.read('s2', 3, -1)).toEqual([token(0, 'newer turn')]);
    expect(await log.read('s2', 2, -1)).toEqual([]);
  });

  it('keeps records, the default session and the event log for the next connection to the file', async () => {
    const path = join(await dataDirectory(), 'sessions.db');
    const first = createSqliteStore({ database: connect(path) });
    const record = sampleRecord('s1', { revision: 3 });
    await first.put(record, { ttlMilliseconds: 60_000 });
    await first.setDefaultSessionId('s1');
    await first.events?.append('s1', 1, [token(0, 'a'), token(1, 'b ✓')]);

    const store = createSqliteStore({ database: connect(path) });
    expect(await store.get('s1')).toEqual(record);
    expect(await store.getDefaultSessionId()).toBe('s1');
    expect(await store.events?.read('s1', 1, -1)).toEqual([token(0, 'a'), token(1, 'b ✓')]);
    await expect(store.put(sampleRecord('s1'), { ttlMilliseconds: 60_000, ifRevision: 2 })).rejects.toMatchObject({
      code: 'session_conflict',
      details: { revision: 3 },
    });
  });

  it('gives 100 concurrent decisions on one pending call, made through two connections, exactly one winner', async () => {
    const path = join(await dataDirectory(), 'sessions.db');
    const stores = [createSqliteStore({ database: connect(path) }), createSqliteStore({ database: connect(path) })];
    await stores[0].put(sampleRecord('s1', { revision: 1 }), { ttlMilliseconds: 60_000 });
    const outcomes = await raceDecisions(stores);
    expect(outcomes.filter(Boolean)).toHaveLength(1);
    const stored = await stores[1].get('s1');
    expect(stored).toMatchObject({
      revision: 2,
      turn: { tool_calls: [{ reason: `approver ${outcomes.indexOf(true)}` }] },
    });
  });

  it('answers 503 store_unavailable, naming the cause, when the disk is full, and changes nothing', async () => {
    const database = connect(join(await dataDirectory(), 'sessions.db'));
    const store = createSqliteStore({ database });
    const record = sampleRecord('s1', { revision: 1 });
    await store.put(record, { ttlMilliseconds: 60_000 });
    await store.events?.append('s1', 1, [token(0, 'kept')]);
    const { page_count: pages } = database.prepare('PRAGMA page_count').get() as { page_count: number };
    database.exec(`PRAGMA max_page_count = ${pages}`);

    const large = { role: 'user' as const, content: 'x'.repeat(200_000) };
    const bigger = sampleRecord('s1', { revision: 2, messages: [...record.messages, large] });
    const failure = { code: 'store_unavailable', status: 503, message: expect.stringContaining('SQLITE_FULL') };
    await expect(store.put(bigger, { ttlMilliseconds: 60_000, ifRevision: 1 })).rejects.toMatchObject(failure);
    await expect(
      store.put(sampleRecord('s2', { messages: [large] }), { ttlMilliseconds: 60_000 }),
    ).rejects.toMatchObject(failure);
    // The first event fits in the page the log has; the second does not: neither is kept.
    const events = [token(1, 'fits'), token(2, 'y'.repeat(100_000))];
    await expect(store.events?.append('s1', 1, events)).rejects.toMatchObject(failure);
    await expect(store.put(bigger, { ttlMilliseconds: 60_000, ifRevision: 1 })).rejects.not.toMatchObject({
      message: expect.stringContaining('x'.repeat(100)),
    });

    expect(await store.get('s1')).toEqual(record);
    expect(await store.get('s2')).toBeUndefined();
    expect(await store.events?.read('s1', 1, -1)).toEqual([token(0, 'kept')]);
    // Room again: the same save now succeeds over the revision it named.
    database.exec('PRAGMA max_page_count = 1000000');
    await store.put(bigger, { ttlMilliseconds: 60_000, ifRevision: 1 });
    expect(await store.get('s1')).toEqual(bigger);
  });

  it('answers store_unavailable (SQLITE_READONLY) for every write to a read-only database', async () => {
    const database = connect(join(await dataDirectory(), 'sessions.db'));
    const store = createSqliteStore({ database });
    await store.put(sampleRecord('s1'), { ttlMilliseconds: 60_000 });
    database.exec('PRAGMA query_only = 1');
    const failure = { code: 'store_unavailable', message: expect.stringContaining('SQLITE_READONLY') };
    await expect(store.put(sampleRecord('s1', { model: 'b' }), { ttlMilliseconds: 60_000 })).rejects.toMatchObject(
      failure,
    );
    await expect(store.delete('s1')).rejects.toMatchObject(failure);
    await expect(store.setDefaultSessionId('s1')).rejects.toMatchObject(failure);
    await expect(store.events?.append('s1', 1, [token(0, 'a')])).rejects.toMatchObject(failure);
    expect(await store.get('s1')).toEqual(sampleRecord('s1'));
  });

  it('sweeps expired sessions and their events every few writes, and when a store is made', async () => {
    let time = 1_000_000;
    const path = join(await dataDirectory(), 'sessions.db');
    const database = connect(path);
    const store = createSqliteStore({ database, now: () => time });
    const rows = (table: string, column: string, id: string) =>
      (database.prepare(`SELECT count(*) AS count FROM ${table} WHERE ${column} = ?`).get(id) as { count: number })
        .count;
    await store.put(sampleRecord('old'), { ttlMilliseconds: 1_000 });
    await store.events?.append('old', 1, [token(0, 'old')]);
    time += 2_000;
    expect(await store.get('old')).toBeUndefined();
    await store.put(sampleRecord('live'), { ttlMilliseconds: 60_000 });
    // Not a scan per request: the expired row waits for the sweep.
    expect(rows('sessions', 'id', 'old')).toBe(1);
    for (let write = 1; write < 100; write += 1) await store.put(sampleRecord('live'), { ttlMilliseconds: 60_000 });
    expect(rows('sessions', 'id', 'old')).toBe(0);
    expect(rows('events', 'session_id', 'old')).toBe(0);
    expect(rows('sessions', 'id', 'live')).toBe(1);

    await store.put(sampleRecord('brief'), { ttlMilliseconds: 1_000 });
    await store.events?.append('brief', 1, [token(0, 'brief')]);
    time += 2_000;
    createSqliteStore({ database: connect(path), now: () => time });
    expect(rows('sessions', 'id', 'brief')).toBe(0);
    expect(rows('events', 'session_id', 'brief')).toBe(0);
  });

  it('keeps at most maxSessions, refusing a new one until the one that expires first has expired', async () => {
    let time = 1_000_000;
    const { store } = await openStore(await dataDirectory(), { maxSessions: 3, now: () => time });
    for (const id of ['a', 'b', 'c']) {
      await store.put(sampleRecord(id), { ttlMilliseconds: 60_000 });
      time += 10_000;
    }
    await store.put(sampleRecord('a'), { ttlMilliseconds: 60_000 });
    await expect(store.put(sampleRecord('d'), { ttlMilliseconds: 60_000 })).rejects.toMatchObject({
      code: 'too_many_sessions',
      details: { retry_after_seconds: 40 },
    });
    time += 40_000;
    await store.put(sampleRecord('d'), { ttlMilliseconds: 60_000 });
    expect(await store.get('b')).toBeUndefined();
    for (const id of ['a', 'c', 'd']) expect(await store.get(id)).toBeDefined();
  });

  it('keeps one turn in the event log: an older turn appending late changes nothing', async () => {
    const { store } = await openStore(await dataDirectory());
    const log = store.events as TurnEventLog;
    await log.append('s1', 2, [token(0, 'new')]);
    await log.append('s1', 1, [token(0, 'old'), token(1, 'old')]);
    expect(await log.read('s1', 2, -1)).toEqual([token(0, 'new')]);
    expect(await log.read('s1', 1, -1)).toEqual([]);
  });

  it('validates what it reads back: a tampered row is an error, not a session', async () => {
    const database = connect(join(await dataDirectory(), 'sessions.db'));
    const store = createSqliteStore({ database });
    await store.put(sampleRecord('s1'), { ttlMilliseconds: 60_000 });
    database.prepare('UPDATE sessions SET record = ? WHERE id = ?').run(JSON.stringify({ id: 's1', model: 7 }), 's1');
    await expect(store.get('s1')).rejects.toThrow();
  });

  it('indexes the pending calls of sessions saved before schema version 2, so the inbox lists them', async () => {
    const path = join(await dataDirectory(), 'sessions.db');
    const old = connect(path);
    // Version 1 as it shipped: sessions without the index columns.
    old.exec(`CREATE TABLE sessions (id TEXT PRIMARY KEY, revision INTEGER NOT NULL, expires_at INTEGER NOT NULL, record TEXT NOT NULL);
      CREATE INDEX sessions_by_expiry ON sessions (expires_at);
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE events (session_id TEXT NOT NULL, sequence INTEGER NOT NULL, first INTEGER NOT NULL, last INTEGER NOT NULL, frames TEXT NOT NULL, PRIMARY KEY (session_id, first));
      PRAGMA user_version = 1;`);
    const insert = old.prepare('INSERT INTO sessions (id, revision, expires_at, record) VALUES (?, 1, ?, ?)');
    const later = Date.now() + 60_000;
    insert.run('waiting', later, JSON.stringify(sampleRecord('waiting')));
    insert.run('idle', later, JSON.stringify({ ...sampleRecord('idle'), turn: null }));
    const store = createSqliteStore({ database: connect(path) });
    expect(await store.approvals?.pending()).toEqual([
      expect.objectContaining({
        session_id: 'waiting',
        request_id: 'r1',
        tool: { name: 'write_file', server: 'filesystem' },
      }),
    ]);
    expect((connect(path).prepare('PRAGMA user_version').get() as { user_version: number }).user_version).toBe(2);
  });

  it('refuses a database written by a newer version, naming its schema version', async () => {
    const path = join(await dataDirectory(), 'sessions.db');
    createSqliteStore({ database: connect(path) });
    const database = connect(path);
    database.exec('PRAGMA user_version = 99');
    expect(() => createSqliteStore({ database })).toThrow(
      'the database has schema version 99, written by a newer llm-chat-server (this one knows up to 2)',
    );
  });
});
