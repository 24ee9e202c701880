import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { CoordinatorMessage, TurnCoordinator } from '../../src/chat/turn-coordinator.js';
import { openRedisStore, type RedisStoreConnection } from '../../src/node/open-redis-store.js';
import type { LoggedEvent } from '../../src/store/session-store.js';
import { createManualClock } from '../helpers/manual-clock.js';
import { useRedisServer } from '../helpers/redis-server.js';
import { loggedToken } from './session-store-contract.js';

// The Redis coordinator on a real Redis, two servers' worth of connections on one prefix. Leases
// are renewed on a clock the test advances; Redis's own expiry is stood in for by changing the
// keys (PEXPIRE, DEL, SET), so that no test waits for time to pass.
const redis = useRedisServer();
const open: RedisStoreConnection[] = [];
afterAll(async () => {
  await Promise.all(open.splice(0).map((connection) => connection.close()));
});
afterEach(() => {
  redis.resume();
});

let prefixes = 0;
const leaseTtl = 60_000;

/** Two servers on one prefix, each with its store, coordinator and a clock the test advances. */
async function twoServers() {
  prefixes += 1;
  const prefix = `coordinator-${prefixes}:`;
  const server = async () => {
    const clock = createManualClock(Date.now());
    const opened = await openRedisStore({ url: redis.url, prefix, clock, leaseTtl, timeout: 500 });
    open.push(opened);
    return { ...opened, clock, coordinator: opened.coordinator as TurnCoordinator };
  };
  const a = await server();
  const b = await server();
  const send = (...command: string[]) => a.connection.send(command);
  return { a, b, prefix, send };
}

/** Resolves once `signal` aborts, with its reason. */
const aborted = (signal: AbortSignal) =>
  new Promise<unknown>((resolve) => {
    if (signal.aborted) resolve(signal.reason);
    signal.addEventListener('abort', () => resolve(signal.reason), { once: true });
  });

/** Lets replies that are on their way from Redis arrive. */
const roundTrip = (server: { connection: { send(command: string[]): Promise<unknown> } }) =>
  server.connection.send(['PING']);

describe('the Redis coordinator', { timeout: 30_000 }, () => {
  it('grants a session’s lease to one server at a time, names its holder, and frees it on release', async () => {
    const { a, b } = await twoServers();
    const lease = await a.coordinator.claim('s1');
    expect(lease).toBeDefined();
    expect(await b.coordinator.claim('s1')).toBeUndefined();
    expect(await b.coordinator.holder('s1')).toBe(a.coordinator.instance);
    lease?.release();
    expect(await b.coordinator.holder('s1')).toBeUndefined();
    expect(await b.coordinator.claim('s1')).toBeDefined();
  });

  it('takes again a lease of its own that it let go while Redis was away, but not another server’s', async () => {
    const { a, b, prefix, send } = await twoServers();
    const lease = await a.coordinator.claim('s1');
    const value = (await send('GET', `${prefix}lease:s1`)) as string;
    lease?.release();
    // The release did not reach Redis (it was away): the key is there until it expires.
    await send('SET', `${prefix}lease:s1`, value, 'PX', '60000');
    expect(await b.coordinator.claim('s1')).toBeUndefined();
    expect(await a.coordinator.claim('s1')).toBeDefined();
    expect(await b.coordinator.claim('s1')).toBeUndefined();
  });

  it('renews a held lease every second, and takes it again when it expired unseen', async () => {
    const { a, prefix, send } = await twoServers();
    const lease = await a.coordinator.claim('s1');
    await send('PEXPIRE', `${prefix}lease:s1`, '2000');
    await a.clock.advance(1000);
    await roundTrip(a);
    expect(Number(await send('PTTL', `${prefix}lease:s1`))).toBeGreaterThan(leaseTtl - 5000);
    await send('DEL', `${prefix}lease:s1`);
    // The next tick takes it again (a renewal's answer comes before the PING's, on the same
    // connection; the script's SHA-1 is computed at once, so its first answer waits on nothing else).
    await a.clock.advance(1000);
    await roundTrip(a);
    expect(await a.coordinator.holder('s1')).toBe(a.coordinator.instance);
    expect(lease?.lost.aborted).toBe(false);
  });

  it('loses a lease another server holds, as interrupted', async () => {
    const { a, b, prefix, send } = await twoServers();
    const lease = await a.coordinator.claim('s1');
    await send('SET', `${prefix}lease:s1`, `${b.coordinator.instance} other-token`);
    await a.clock.advance(1000);
    expect(await aborted(lease?.lost as AbortSignal)).toMatchObject({ code: 'interrupted' });
  });

  it('loses a lease it could not renew for its time to live less a second, as store_unavailable', async () => {
    const { a } = await twoServers();
    const lease = await a.coordinator.claim('s1');
    redis.pause();
    await a.clock.advance(leaseTtl - 2000);
    expect(lease?.lost.aborted).toBe(false);
    await a.clock.advance(1000);
    expect(await aborted(lease?.lost as AbortSignal)).toMatchObject({ code: 'store_unavailable' });
  });

  it('says where a stream waits, until that server says it no longer does; another server cannot unsay it', async () => {
    const { a, b } = await twoServers();
    a.coordinator.markWaiting('s1', true, 60_000);
    expect(await b.coordinator.waiter('s1')).toBe(a.coordinator.instance);
    b.coordinator.markWaiting('s1', false, 60_000);
    expect(await b.coordinator.waiter('s1')).toBe(a.coordinator.instance);
    a.coordinator.markWaiting('s1', false, 60_000);
    expect(await b.coordinator.waiter('s1')).toBeUndefined();
  });

  it('says which turns are followed on another server', async () => {
    const { a, b } = await twoServers();
    a.coordinator.markFollowed(['s1', 's2'], 60_000);
    expect(await b.coordinator.followedElsewhere('s2')).toBe(true);
    expect(await b.coordinator.followedElsewhere('s3')).toBe(false);
  });

  it('delivers a message to the server it names, and says when no server of that name listens', async () => {
    const { a, b } = await twoServers();
    const got: CoordinatorMessage[] = [];
    const arrived = new Promise<void>((resolve) =>
      b.coordinator.onMessage((message) => {
        got.push(message);
        resolve();
      }),
    );
    expect(await a.coordinator.send(b.coordinator.instance, { type: 'stop', session_id: 's1' })).toBe(true);
    await arrived;
    expect(got).toEqual([{ type: 'stop', session_id: 's1' }]);
    expect(await a.coordinator.send('nobody', { type: 'continue', session_id: 's1' })).toBe(false);
  });

  it('follows what any server logs or announces for a session, in order, until unlistened', async () => {
    const { a, b } = await twoServers();
    const got: Array<[number, number[]]> = [];
    let wake = () => {};
    const unlisten = await b.coordinator.listen('s1', (sequence, events: LoggedEvent[]) => {
      got.push([sequence, events.map((event) => event.index)]);
      wake();
    });
    const until = (count: number) =>
      new Promise<void>((resolve) => {
        wake = () => got.length >= count && resolve();
        wake();
      });
    await a.store.events?.append('s1', 2, [loggedToken(0, 'a'), loggedToken(1, 'b')]);
    a.coordinator.announce('s1', 2, [loggedToken(2, 'announced')]);
    await a.store.events?.append('s2', 1, [loggedToken(0, 'another session')]);
    await until(2);
    expect(got).toEqual([
      [2, [0, 1]],
      [2, [2]],
    ]);
    unlisten();
    await roundTrip(b);
    await a.store.events?.append('s1', 2, [loggedToken(3, 'after')]);
    await roundTrip(a);
    expect(got).toHaveLength(2);
  });
});
