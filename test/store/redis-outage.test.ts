import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openRedisStore, type RedisStoreConnection } from '../../src/node/open-redis-store.js';
import type { SessionStore } from '../../src/store/session-store.js';
import { useRedisServer } from '../helpers/redis-server.js';
import { buildTestApp } from '../helpers/test-app.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';
import { loggedToken, sampleRecord } from './session-store-contract.js';

// Redis going away under a store in use, and coming back: a real redis-server killed (its data
// lost, as nothing is saved) or frozen (SIGSTOP: the connection stays open, nothing answers).
const redis = useRedisServer();
const upstream = useFakeUpstream();
const timeout = 500;
const open: RedisStoreConnection[] = [];
afterAll(async () => {
  await Promise.all(open.splice(0).map((connection) => connection.close()));
});
// A test that failed midway leaves no stopped or frozen Redis to the next.
afterEach(async () => {
  redis.resume();
  await redis.start();
});

/** A store on the Redis server with a 500 ms bound, and a promise of its next "connected again" log line. */
async function connect() {
  const opened = await openRedisStore({ url: redis.url, timeout });
  open.push(opened);
  const lines: string[] = [];
  let announce: (line: string) => void = () => {};
  opened.reportTo({
    warn: (line) => lines.push(line),
    info: (line) => {
      lines.push(line);
      announce(line);
    },
  });
  const reconnected = () =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`not connected again within 10 s: ${lines.join(' | ')}`)),
        10_000,
      );
      announce = (line) => {
        clearTimeout(timer);
        resolve(line);
      };
    });
  return { ...opened, lines, reconnected };
}

/** Every call of the store, each expected to fail with store_unavailable naming `reason`. */
function everyCall(store: SessionStore) {
  return [
    store.get('s1'),
    store.put(sampleRecord('s1'), { ttlMilliseconds: 60_000, ifRevision: 0 }),
    store.delete('s1'),
    store.getDefaultSessionId(),
    store.setDefaultSessionId('s1'),
    store.events?.append('s1', 1, [loggedToken(0, 'a')]),
    store.events?.read('s1', 1, -1),
  ];
}

/** The error (its wire body, or the AppError with its status) of a store call that failed for `reason`. */
const unavailable = (reason: string) => ({
  code: 'store_unavailable',
  message: expect.stringContaining(`: ${reason}. Try again later.`),
});

describe('the Redis store when Redis goes away', { timeout: 60_000 }, () => {
  it('fails every call at once while Redis is down, and works again on the same store once it is back', async () => {
    const opened = await connect();
    await opened.store.put(sampleRecord('s1'), { ttlMilliseconds: 60_000 });
    await redis.stop();
    const started = Date.now();
    const outcomes = await Promise.allSettled(everyCall(opened.store));
    expect(Date.now() - started).toBeLessThan(timeout);
    for (const outcome of outcomes) {
      expect(outcome).toMatchObject({
        status: 'rejected',
        reason: { ...unavailable('Redis cannot be reached'), status: 503 },
      });
    }
    expect(opened.lines).toEqual([expect.stringMatching(/^sessions: the connection to Redis at .* is lost/)]);

    const back = opened.reconnected();
    await redis.start();
    expect(await back).toBe(`sessions: connected to Redis at ${redis.url} again`);
    // Nothing was saved across the restart: the store is empty, and works.
    expect(await opened.store.get('s1')).toBeUndefined();
    await opened.store.put(sampleRecord('s1', { revision: 1 }), { ttlMilliseconds: 60_000, ifRevision: 0 });
    expect(await opened.store.get('s1')).toMatchObject({ revision: 1 });
  });

  it('fails every call within its bound while Redis does not answer, and goes on with the same data after', async () => {
    const opened = await connect();
    const record = sampleRecord('kept', { revision: 4 });
    await opened.store.put(record, { ttlMilliseconds: 60_000 });
    redis.pause();
    try {
      const started = Date.now();
      const outcomes = await Promise.allSettled(everyCall(opened.store));
      const elapsed = Date.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(timeout - 10);
      expect(elapsed).toBeLessThan(timeout + 1000);
      for (const outcome of outcomes) {
        expect(outcome).toMatchObject({
          status: 'rejected',
          reason: { ...unavailable('Redis did not answer within 500ms'), status: 503 },
        });
      }
    } finally {
      redis.resume();
    }
    expect(await opened.store.get('kept')).toEqual(record);
  });
});

describe('the app on Redis when Redis goes away', { timeout: 60_000 }, () => {
  async function appOnRedis() {
    const opened = await connect();
    const built = await buildTestApp(upstream, {}, { dependencies: { store: opened.store } });
    return { ...built, opened };
  }

  it('answers 503 store_unavailable without asking the model while Redis is down, and serves again once it is back', async () => {
    const t = await appOnRedis();
    const id = ((await (await t.post('/start_session', {})).json()) as any).session_id;
    await redis.stop();
    const calls = upstream.chatRequests().length;
    const started = Date.now();
    for (const response of [
      await t.post('/user_request', { input: 'hello', session_id: id }),
      await t.post('/start_session', {}),
      await t.app.request(`/session_state?session_id=${id}`),
    ]) {
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({ error: unavailable('Redis cannot be reached') });
    }
    expect(Date.now() - started).toBeLessThan(timeout);
    expect(upstream.chatRequests()).toHaveLength(calls);

    const back = t.opened.reconnected();
    await redis.start();
    await back;
    const restarted = await t.post('/start_session', {});
    expect(restarted.status).toBe(201);
    upstream.reply({ text: ['Back again.'] });
    const answered = await t.post('/user_request', { input: 'hello' });
    expect(await answered.json()).toMatchObject({ message: 'Back again.' });
  });

  it('answers 503 within the bound while Redis does not answer; the session goes on after', async () => {
    const t = await appOnRedis();
    const id = ((await (await t.post('/start_session', {})).json()) as any).session_id;
    upstream.reply({ text: ['First.'] });
    expect(await (await t.post('/user_request', { input: 'one', session_id: id })).json()).toMatchObject({
      message: 'First.',
    });
    const calls = upstream.chatRequests().length;
    redis.pause();
    try {
      const started = Date.now();
      const failed = await t.post('/user_request', { input: 'two', session_id: id });
      expect(Date.now() - started).toBeLessThan(timeout + 1000);
      expect(failed.status).toBe(503);
      expect(await failed.json()).toMatchObject({ error: unavailable('Redis did not answer within 500ms') });
    } finally {
      redis.resume();
    }
    expect(upstream.chatRequests()).toHaveLength(calls);
    upstream.reply({ text: ['Second.'] });
    const state = await t.post('/user_request', { input: 'three', session_id: id });
    expect(await state.json()).toMatchObject({ message: 'Second.' });
    const history = ((await (await t.app.request(`/session_state?session_id=${id}`)).json()) as any).messages;
    const said = history.filter((message: { role: string }) => message.role !== 'system');
    expect(said.map((message: { content: string }) => message.content)).toEqual(['one', 'First.', 'three', 'Second.']);
  });
});
