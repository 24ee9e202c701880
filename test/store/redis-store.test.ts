import { afterAll, describe, expect, it } from 'vitest';
import { openRedisStore, type RedisStoreConnection } from '../../src/node/open-redis-store.js';
import { openSessionStore } from '../../src/node/open-session-store.js';
import { StoreOpenError } from '../../src/node/open-sqlite-store.js';
import type { RedisConnection } from '../../src/store/redis-connection.js';
import { createRedisStore, maxLoggedBatches } from '../../src/store/redis-store.js';
import type { TurnEventLog } from '../../src/store/session-store.js';
import { closedPort } from '../helpers/closed-port.js';
import { startRedisServer, useRedisServer } from '../helpers/redis-server.js';
import { loggedToken, raceDecisions, sampleRecord, sessionStoreContract } from './session-store-contract.js';

const redis = useRedisServer();
const open: RedisStoreConnection[] = [];
afterAll(async () => {
  await Promise.all(open.splice(0).map((connection) => connection.close()));
});

let prefixes = 0;
/** A store on the file's Redis server, under a key prefix of its own: empty, whatever ran before. */
async function connect(options: { prefix?: string; now?: () => number; maxSessions?: number; timeout?: number } = {}) {
  prefixes += 1;
  const connection = await openRedisStore({ url: redis.url, prefix: `test-${prefixes}:`, ...options });
  open.push(connection);
  return connection;
}

sessionStoreContract('redis', { atomicRevisions: true, events: true, approvals: true }, async (limits) => {
  let time = 1_000_000;
  const { store } = await connect({ now: () => time, ...limits });
  return {
    store,
    advance: async (milliseconds) => {
      time += milliseconds;
    },
  };
});

/** Sends one command on `connection` as a test's own look into Redis. */
const send = (connection: RedisStoreConnection, ...command: string[]) => connection.connection.send(command);

/** `connection`, with the name of every command it sends recorded in `commands`. */
function countingCommands(connection: RedisConnection) {
  const commands: string[] = [];
  const counting: RedisConnection = {
    send(command) {
      commands.push(command[0]);
      return connection.send(command);
    },
  };
  return { commands, counting };
}

describe('the Redis store', () => {
  it('keeps records, the default session and the event log for another connection to the same Redis', async () => {
    const first = await connect({ prefix: 'shared:' });
    const record = sampleRecord('s1', { revision: 3 });
    await first.store.put(record, { ttlMilliseconds: 60_000 });
    await first.store.setDefaultSessionId('s1');
    await first.store.events?.append('s1', 1, [loggedToken(0, 'a'), loggedToken(1, 'b ✓')]);

    const { store } = await connect({ prefix: 'shared:' });
    expect(await store.get('s1')).toEqual(record);
    expect(await store.getDefaultSessionId()).toBe('s1');
    expect(await store.events?.read('s1', 1, -1)).toEqual([loggedToken(0, 'a'), loggedToken(1, 'b ✓')]);
    await expect(store.put(sampleRecord('s1'), { ttlMilliseconds: 60_000, ifRevision: 2 })).rejects.toMatchObject({
      code: 'session_conflict',
      details: { revision: 3 },
    });
  });

  it('gives 100 concurrent decisions on one pending call, made through two connections, exactly one winner', async () => {
    const stores = [(await connect({ prefix: 'race:' })).store, (await connect({ prefix: 'race:' })).store];
    await stores[0].put(sampleRecord('s1', { revision: 1 }), { ttlMilliseconds: 60_000 });
    const outcomes = await raceDecisions(stores);
    expect(outcomes.filter(Boolean)).toHaveLength(1);
    expect(await stores[1].get('s1')).toMatchObject({
      revision: 2,
      turn: { tool_calls: [{ reason: `approver ${outcomes.indexOf(true)}` }] },
    });
  });

  it('lets Redis expire a session and its event log together, its TTL restarted by every save', async () => {
    const redisConnection = await connect();
    const { store } = redisConnection;
    const prefix = `test-${prefixes}:`;
    await store.events?.append('s1', 1, [loggedToken(0, 'before the session was saved')]);
    const ttl = async (key: string) => Number(await send(redisConnection, 'PTTL', `${prefix}${key}`));
    // A log whose session is not stored lives an hour.
    expect(await ttl('events:s1')).toBeGreaterThan(3_500_000);
    await store.put(sampleRecord('s1'), { ttlMilliseconds: 60_000 });
    for (const key of ['session:s1', 'events:s1']) {
      expect(await ttl(key)).toBeGreaterThan(55_000);
      expect(await ttl(key)).toBeLessThanOrEqual(60_000);
    }
    await store.put(sampleRecord('s1'), { ttlMilliseconds: 600_000 });
    await store.events?.append('s1', 1, [loggedToken(1, 'after')]);
    for (const key of ['session:s1', 'events:s1']) expect(await ttl(key)).toBeGreaterThan(590_000);
    await store.delete('s1');
    expect(await send(redisConnection, 'EXISTS', `${prefix}session:s1`, `${prefix}events:s1`)).toBe(0);
  });

  it('writes each batch of events with one command, and keeps the latest batches of a turn only', async () => {
    const { connection } = await connect();
    const { commands, counting } = countingCommands(connection);
    const store = createRedisStore({ connection: counting, prefix: `test-${prefixes}:` });
    const log = store.events as TurnEventLog;
    // A script goes with its source first, by its hash after.
    await log.append('s1', 1, [loggedToken(0, 'a')]);
    expect(commands).toEqual(['EVAL']);
    await log.append('s1', 1, [loggedToken(1, 'b')]);
    expect(commands).toEqual(['EVAL', 'EVALSHA']);
    // A Redis that forgot it (it restarted) is sent its source again.
    await connection.send(['SCRIPT', 'FLUSH']);
    commands.length = 0;
    await log.append('s1', 1, [loggedToken(2, 'c')]);
    expect(commands).toEqual(['EVALSHA', 'EVAL']);
    expect(await log.read('s1', 1, -1)).toEqual([loggedToken(0, 'a'), loggedToken(1, 'b'), loggedToken(2, 'c')]);

    const batches = Array.from({ length: maxLoggedBatches + 2 }, (_, batch) => [
      loggedToken(3 + 2 * batch, 'x'),
      loggedToken(4 + 2 * batch, 'y'),
    ]);
    for (let start = 0; start < batches.length; start += 500) {
      // Appends in flight at once arrive in order: one connection, one queue.
      await Promise.all(batches.slice(start, start + 500).map((batch) => log.append('s1', 1, batch)));
    }
    const kept = await log.read('s1', 1, -1);
    expect(kept).toHaveLength(2 * maxLoggedBatches);
    expect(kept[0].index).toBe(3 + 2 * 2 + 0);
    expect(kept.at(-1)?.index).toBe(4 + 2 * (maxLoggedBatches + 1));
  });

  it('writes batches of several sessions in one command, each as an append of its own would', async () => {
    const { connection } = await connect();
    const { commands, counting } = countingCommands(connection);
    const log = createRedisStore({ connection: counting, prefix: `test-${prefixes}:` }).events as TurnEventLog;
    await log.append('s2', 3, [loggedToken(0, 'newer turn')]);
    commands.length = 0;
    await log.appendMany?.([
      { sessionId: 's1', sequence: 1, events: [loggedToken(0, 'a'), loggedToken(1, 'b')] },
      { sessionId: 's2', sequence: 2, events: [loggedToken(5, 'older turn')] },
      { sessionId: 's1', sequence: 1, events: [loggedToken(2, 'c')] },
    ]);
    expect(commands).toHaveLength(1);
    expect(await log.read('s1', 1, -1)).toEqual([loggedToken(0, 'a'), loggedToken(1, 'b'), loggedToken(2, 'c')]);
    expect(await log.read('s2', 3, -1)).toEqual([loggedToken(0, 'newer turn')]);
    expect(await log.read('s2', 2, -1)).toEqual([]);
  });

  it('keeps one turn in the event log: an older turn appending late changes nothing', async () => {
    const { store } = await connect();
    const log = store.events as TurnEventLog;
    await log.append('s1', 2, [loggedToken(0, 'new')]);
    await log.append('s1', 1, [loggedToken(0, 'old'), loggedToken(1, 'old')]);
    expect(await log.read('s1', 2, -1)).toEqual([loggedToken(0, 'new')]);
    expect(await log.read('s1', 1, -1)).toEqual([]);
  });

  it('validates what it reads back: a tampered record is an error, not a session', async () => {
    const redisConnection = await connect();
    await redisConnection.store.put(sampleRecord('s1'), { ttlMilliseconds: 60_000 });
    const key = `test-${prefixes}:session:s1`;
    await send(redisConnection, 'HSET', key, 'record', JSON.stringify({ id: 's1', model: 7 }));
    await expect(redisConnection.store.get('s1')).rejects.toThrow();
  });
});

describe('opening the Redis store', () => {
  it('fails at once, naming the address and the cause, when nothing listens there', async () => {
    const port = await closedPort();
    const opening = openRedisStore({ url: `redis://127.0.0.1:${port}` });
    await expect(opening).rejects.toThrow(StoreOpenError);
    await expect(opening).rejects.toThrow(
      `cannot connect to Redis at redis://127.0.0.1:${port}: the connection failed (ECONNREFUSED).`,
    );
  });

  it('names a refused password without showing it', async () => {
    const guarded = await startRedisServer({ password: 'right-password' });
    try {
      const url = `redis://:wrong-password@127.0.0.1:${guarded.port}`;
      const opening = openRedisStore({ url });
      await expect(opening).rejects.toThrow(
        `cannot connect to Redis at redis://:***@127.0.0.1:${guarded.port}: Redis refused the user name or password (WRONGPASS).`,
      );
      const opened = await openRedisStore({ url: guarded.url });
      await opened.store.setDefaultSessionId('s1');
      expect(await opened.store.getDefaultSessionId()).toBe('s1');
      await opened.close();
    } finally {
      await guarded.close();
    }
  });

  it('is what --store redis opens, as a store other servers share, with the coordinator they share it through', async () => {
    const opened = await openSessionStore({ store: 'redis', redisUrl: redis.url, maxSessions: 10 }, {});
    try {
      expect(opened.onlyRunner).toBe(false);
      expect(opened.coordinator?.shared).toBe(true);
      await opened.store.setDefaultSessionId('through-the-entry');
      expect(await opened.store.getDefaultSessionId()).toBe('through-the-entry');
    } finally {
      await opened.close();
    }
  });
});
