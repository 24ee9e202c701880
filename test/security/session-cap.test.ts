import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createManualClock } from '../helpers/manual-clock.js';
import { faultServer, servers } from '../helpers/mcp-servers.js';
import { buildTestApp, closeToolProviders, temporaryDirectory } from '../helpers/test-app.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';
import { sampleRecord } from '../store/session-store-contract.js';

// The memory store kept at most 10,000 sessions and dropped the one saved longest ago to make room:
// 10,000 `/start_session` calls evicted a session waiting on an approval (its /approve answered
// 404) and could move the default-session pointer. Now a full store refuses new sessions (503
// too_many_sessions with Retry-After) and never drops a live one; and one client address may start
// only so many sessions a minute (429 rate_limited with Retry-After).

const upstream = useFakeUpstream({ each: true });
afterAll(() => closeToolProviders());

/** The Node adapter's bindings, as @hono/node-server passes them, for a client at `address`. */
const from = (address: string) => ({ incoming: { socket: { remoteAddress: address } } });

/**
 * Fills the store to its cap: first a session waiting on an approval, last the latest started one,
 * and in between sessions started over HTTP or, with `direct`, saved through the store's port.
 */
async function fillUp(maxSessions: number | undefined, direct = false) {
  const countFile = join(await temporaryDirectory('session-cap-'), 'count.txt');
  const test = await buildTestApp(upstream, maxSessions === undefined ? {} : { maxSessions }, {
    servers: servers({ fault: faultServer(countFile) }),
  });
  const { post, app, store } = test;
  const start = async () => {
    const response = await post('/start_session', {});
    expect(response.status, await response.clone().text()).toBe(201);
    return ((await response.json()) as { session_id: string }).session_id;
  };
  const waiting = await start();
  upstream.reply({ toolCalls: [{ id: 'call_1', name: 'count', arguments: { label: 'one' } }] }, { text: ['Counted.'] });
  const first = (await (await post('/user_request', { input: 'count', session_id: waiting })).json()) as any;
  expect(first).toMatchObject({ requires_approval: true });
  const cap = maxSessions ?? 10_000;
  for (let count = 2; count < cap; count += 1) {
    if (direct) await store.put(sampleRecord(`idle-${count}`, { turn: null }), { ttlMilliseconds: 60_000 });
    else await start();
  }
  const latest = await start();

  const refused = await post('/start_session', {});
  expect(refused.status).toBe(503);
  expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
  expect(((await refused.json()) as any).error.code).toBe('too_many_sessions');

  const approved = await post('/approve', { session_id: waiting, request_id: first.request_id, approve: true });
  expect(approved.status, await approved.clone().text()).toBe(200);
  expect(((await approved.json()) as any).message).toBe('Counted.');
  const state = (await (await app.request('/session_state')).json()) as { session_id: string };
  expect(state.session_id).toBe(latest);
}

describe('the session cap', () => {
  it('refuses the session over --max-sessions and keeps the one waiting on an approval', async () => {
    await fillUp(5);
  });

  it('holds at the default cap of 10,000 too (the middle saved through the store, for speed)', async () => {
    await fillUp(undefined, true);
  });

  it('answers 503 when the default session cannot be made', async () => {
    const { store, app } = await buildTestApp(upstream, { maxSessions: 1 });
    await store.put(sampleRecord('someone-else'), { ttlMilliseconds: 60_000 });
    const refused = await app.request('/session_state');
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('60');
    expect(((await refused.json()) as any).error.code).toBe('too_many_sessions');
  });
});

describe('the session-start rate limit', () => {
  it('lets one client address start --sessions-per-minute sessions, then answers 429 until the bucket refills', async () => {
    const clock = createManualClock();
    const { app } = await buildTestApp(upstream, { sessionsPerMinute: 3 }, { dependencies: { clock } });
    const start = (address: string) =>
      app.request('/start_session', { method: 'POST', headers: { 'content-type': 'application/json' } }, from(address));
    for (let count = 0; count < 3; count += 1) expect((await start('192.0.2.1')).status).toBe(201);
    const limited = await start('192.0.2.1');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('20');
    expect(((await limited.json()) as any).error).toMatchObject({
      code: 'rate_limited',
      details: { retry_after_seconds: 20 },
    });
    expect((await start('192.0.2.2')).status).toBe(201);
    await clock.advance(19_000);
    expect((await start('192.0.2.1')).status).toBe(429);
    await clock.advance(1_000);
    expect((await start('192.0.2.1')).status).toBe(201);
    expect((await start('192.0.2.1')).status).toBe(429);
  });
});
