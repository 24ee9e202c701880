import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AppConfig } from '../../src/app.js';
import { interruptedMark, restartedToolText } from '../../src/chat/recover-turn.js';
import type { Clock } from '../../src/clock.js';
import { openRedisStore, type RedisStoreConnection } from '../../src/node/open-redis-store.js';
import { createHold } from '../helpers/fake-upstream.js';
import { createManualClock } from '../helpers/manual-clock.js';
import { faultServer, servers } from '../helpers/mcp-servers.js';
import { useRedisServer } from '../helpers/redis-server.js';
import { openStream, parseSse } from '../helpers/sse.js';
import { buildTestApp, closeToolProviders, temporaryDirectory } from '../helpers/test-app.js';
import { untilLine } from '../helpers/until-line.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

// Several servers on one Redis, in one process: each app has its own connections to Redis (its
// store and coordinator), its own MCP server processes and its own channels, as separate processes
// would. The same with real processes behind no balancer is test/e2e/scale-out.test.ts.
const redis = useRedisServer();
const upstream = useFakeUpstream({ each: true });
const open: RedisStoreConnection[] = [];
afterAll(async () => {
  await closeToolProviders();
  await Promise.all(open.splice(0).map((connection) => connection.close()));
});

let deployments = 0;

/** `count` apps sharing one Redis prefix, one working directory and one count file. */
async function deployment(
  count: number,
  options: { leaseTtl?: number; config?: Partial<AppConfig>; clocks?: Array<Clock | undefined> } = {},
) {
  deployments += 1;
  const prefix = `shared-${deployments}:`;
  const directory = await temporaryDirectory('shared-');
  const countFile = join(directory, 'count.txt');
  const apps = [];
  for (let index = 0; index < count; index += 1) {
    const opened = await openRedisStore({ url: redis.url, prefix, leaseTtl: options.leaseTtl });
    open.push(opened);
    const built = await buildTestApp(
      upstream,
      { currentDirectory: directory, sessionsPerMinute: 0, ...options.config },
      {
        servers: servers({ fault: faultServer(countFile) }),
        dependencies: { store: opened.store, coordinator: opened.coordinator, clock: options.clocks?.[index] },
      },
    );
    apps.push({ ...built, opened });
  }
  const counted = async () => (await readFile(countFile, 'utf8').catch(() => '')).split('\n').filter(Boolean);
  return { apps, countFile, counted, prefix };
}

const json = async (response: Response) => (await response.json()) as any;

describe('servers sharing one Redis', { timeout: 60_000 }, () => {
  it('a decision on B continues the stream waiting on A, and the tool runs once, on A', async () => {
    const {
      apps: [a, b],
      counted,
    } = await deployment(2);
    const { session_id } = await json(await a.post('/start_session', {}));
    upstream.reply(
      { text: ['Let me count.'], toolCalls: [{ name: 'count', arguments: { label: 'once' } }] },
      { text: ['Counted', ' once.'] },
    );
    const stream = openStream(await a.post('/user_request', { input: 'count', session_id, stream: true }));
    const asked = parseSse(await stream.until((text) => text.includes('event: approval_required'), 15_000));
    const request_id = asked.find((event) => event.event === 'approval_required')?.data.request_id;

    const approved = await b.post('/approve', { session_id, request_id, approve: true });
    expect(approved.status).toBe(202);
    expect(await approved.json()).toEqual({ request_id, status: 'approved', delivered: 'stream' });
    const rest = parseSse(await stream.rest());
    expect(rest.map((event) => event.event)).toEqual(['tool_call', 'tool_result', 'token', 'token', 'done']);
    expect(rest.at(-1)?.data).toMatchObject({ message: 'Counted once.', requires_approval: false });
    expect(await counted()).toEqual(['once']);
    // Ids go on where the stream was, as on one server (3 was the held `done`, 4 the continuation's `session`).
    expect([...asked, ...rest].map((event) => event.id)).toEqual([
      '1.0',
      '1.1',
      '1.2',
      '1.5',
      '1.6',
      '1.7',
      '1.8',
      '1.9',
    ]);
  });

  it('a decision on B with no stream waiting anywhere continues in its own answer', async () => {
    const {
      apps: [a, b],
      counted,
    } = await deployment(2);
    const { session_id } = await json(await a.post('/start_session', {}));
    upstream.reply({ toolCalls: [{ name: 'count', arguments: { label: 'json' } }] }, { text: ['Done.'] });
    const asked = await json(await a.post('/user_request', { input: 'count', session_id }));
    expect(asked.requires_approval).toBe(true);
    const approved = await b.post('/approve', { session_id, request_id: asked.request_id, approve: true });
    expect(approved.status).toBe(200);
    expect(await approved.json()).toMatchObject({ message: 'Done.', tool_calls: [{ status: 'executed' }] });
    expect(await counted()).toEqual(['json']);
  });

  it('a turn runs on one server at a time: another start is 409 turn_in_progress on every server', async () => {
    const {
      apps: [a, b],
    } = await deployment(2);
    const { session_id } = await json(await a.post('/start_session', {}));
    const hold = createHold(1);
    upstream.reply({ text: ['first', ' second'], holds: [hold] });
    const stream = openStream(await a.post('/user_request', { input: 'talk', session_id, stream: true }));
    await hold.reached;
    const again = await b.post('/user_request', { input: 'again', session_id });
    expect(again.status).toBe(409);
    expect((await again.json()).error.code).toBe('turn_in_progress');
    expect(await json(await b.app.request(`/session_state?session_id=${session_id}`))).toMatchObject({
      status: 'running',
    });
    hold.release();
    await stream.rest();
    upstream.reply({ text: ['Now B.'] });
    expect(await json(await b.post('/user_request', { input: 'again', session_id }))).toMatchObject({
      message: 'Now B.',
    });
  });

  it('POST /stop on B stops the turn running on A', async () => {
    const {
      apps: [a, b],
    } = await deployment(2);
    const { session_id } = await json(await a.post('/start_session', {}));
    const hold = createHold(1);
    upstream.reply({ text: ['partial', ' never'], holds: [hold] });
    const stream = openStream(await a.post('/user_request', { input: 'talk', session_id, stream: true }));
    await hold.reached;
    await stream.until((text) => text.includes('partial'));
    const stopped = await b.post('/stop', { session_id });
    expect(stopped.status).toBe(200);
    const rest = parseSse(await stream.rest());
    expect(rest.at(-1)).toMatchObject({ event: 'done', data: { stopped: true, message: 'partial' } });
    hold.release();
  });

  it('a resume on B with Last-Event-ID replays what A logged and follows the rest live, once', async () => {
    const {
      apps: [a, b],
    } = await deployment(2);
    const { session_id } = await json(await a.post('/start_session', {}));
    const hold = createHold(3);
    upstream.reply({ text: ['one ', 'two ', 'three ', 'four ', 'five'], holds: [hold] });
    const stream = openStream(await a.post('/user_request', { input: 'count', session_id, stream: true }));
    const seen = parseSse(await stream.until((text) => text.includes('three'), 15_000));
    const resumed = openStream(
      await b.app.request(`/events?session_id=${session_id}`, { headers: { 'last-event-id': seen[1].id } }),
    );
    const replayed = parseSse(await resumed.until((text) => text.includes('three')));
    expect(replayed.map((event) => event.data.content)).toEqual(['two ', 'three ']);
    hold.release();
    const live = parseSse(await resumed.rest());
    const all = [...replayed, ...live];
    const original = [...seen, ...parseSse(await stream.rest())];
    expect(all).toEqual(original.slice(2));
    expect(upstream.chatRequests()).toHaveLength(1);
  });

  it('a resume on B of a turn that then pauses for approval: the streams on A and B both get the continuation', async () => {
    const {
      apps: [a, b],
      counted,
    } = await deployment(2);
    const { session_id } = await json(await a.post('/start_session', {}));
    const hold = createHold(1);
    upstream.reply(
      { text: ['before ', 'asking'], toolCalls: [{ name: 'count', arguments: { label: 'b' } }], holds: [hold] },
      { text: ['after'] },
    );
    const first = openStream(await a.post('/user_request', { input: 'count', session_id, stream: true }));
    await hold.reached;
    const seen = parseSse(await first.until((text) => text.includes('before')));
    const resumed = openStream(
      await b.app.request(`/events?session_id=${session_id}`, {
        headers: { 'last-event-id': seen.at(-1)?.id as string },
      }),
    );
    hold.release();
    const asked = parseSse(await resumed.until((text) => text.includes('event: approval_required'), 15_000));
    await first.until((text) => text.includes('event: approval_required'));
    const request_id = asked.find((event) => event.event === 'approval_required')?.data.request_id;
    const approved = await a.post('/approve', { session_id, request_id, approve: true });
    expect(await approved.json()).toMatchObject({ delivered: 'stream' });
    const onB = parseSse(await resumed.rest());
    const onA = parseSse(await first.rest());
    expect(onB.map((event) => event.event)).toEqual(['tool_call', 'tool_result', 'token', 'done']);
    expect(onA.slice(-4)).toEqual(onB);
    expect(await counted()).toEqual(['b']);
  });

  it('a server that dies mid-turn: its lease expires, the turn is marked interrupted, a follower elsewhere gets the error', async () => {
    const {
      apps: [a, b],
      countFile,
      counted,
    } = await deployment(2, { leaseTtl: 600 });
    const { session_id } = await json(await a.post('/start_session', {}));
    upstream.reply({ text: ['half an answer'], toolCalls: [{ name: 'hang', arguments: {} }] });
    const asked = await json(await a.post('/user_request', { input: 'hang', session_id }));
    const approving = a.post('/approve', { session_id, request_id: asked.request_id, approve: true });
    await untilLine(countFile, 'hang-start');
    const follower = openStream(await b.app.request(`/events?session_id=${session_id}`));
    await follower.until((text) => text.includes('event: tool_call'));
    // A "dies": its connections to Redis go, so its lease is not renewed; its run is stuck in the tool.
    await a.opened.close();
    const rest = parseSse(await follower.rest());
    expect(rest.at(-1)).toMatchObject({ event: 'error', data: { error: { code: 'interrupted' } } });
    const state = await json(await b.app.request(`/session_state?session_id=${session_id}`));
    expect(state).toMatchObject({ status: 'idle' });
    expect(state.messages.at(-1)).toMatchObject({ role: 'tool', content: restartedToolText });
    expect(JSON.stringify(state.messages)).not.toContain(interruptedMark);
    expect((await counted()).filter((line) => line === 'hang-start')).toHaveLength(1);
    void Promise.resolve(approving).catch(() => undefined);
  });

  it('a server that loses its lease to another ends its turn with that error', async () => {
    const {
      apps: [a, b],
      prefix,
    } = await deployment(2);
    const { session_id } = await json(await a.post('/start_session', {}));
    const hold = createHold(1);
    upstream.reply({ text: ['started', ' never'], holds: [hold] });
    const stream = openStream(await a.post('/user_request', { input: 'talk', session_id, stream: true }));
    await stream.until((text) => text.includes('"started"'));
    // Another server took the turn (as after a pause longer than the lease): A's next renewal says so.
    await b.opened.connection.send(['SET', `${prefix}lease:${session_id}`, 'another-server token']);
    const rest = parseSse(await stream.rest());
    expect(rest.at(-1)).toMatchObject({ event: 'error', data: { error: { code: 'interrupted' } } });
    hold.release();
  });

  it('POST /stop on B ends a step waiting on approvals whose stream is on A: that stream gets the last done', async () => {
    const {
      apps: [a, b],
      counted,
    } = await deployment(2);
    const { session_id } = await json(await a.post('/start_session', {}));
    upstream.reply({ toolCalls: [{ name: 'count', arguments: { label: 'never' } }] });
    const stream = openStream(await a.post('/user_request', { input: 'count', session_id, stream: true }));
    await stream.until((text) => text.includes('event: approval_required'), 15_000);
    expect((await b.post('/stop', { session_id })).status).toBe(200);
    const rest = parseSse(await stream.rest());
    expect(rest.map((event) => event.event)).toEqual(['done']);
    expect(rest[0].data).toMatchObject({ stopped: true, tool_calls: [{ status: 'denied' }] });
    expect(await counted()).toEqual([]);
  });

  it('a continuation on B, which holds none of the turn, numbers its events past those A sent', async () => {
    // Streams do not wait on approvals: A's ends with the step's done.
    const {
      apps: [a, b],
    } = await deployment(2, { config: { approvalTimeout: 0 } });
    const { session_id } = await json(await a.post('/start_session', {}));
    upstream.reply({ text: ['asking'], toolCalls: [{ name: 'count', arguments: { label: 'b' } }] }, { text: ['done'] });
    const first = parseSse(await (await a.post('/user_request', { input: 'count', session_id, stream: true })).text());
    const request_id = first.find((event) => event.event === 'approval_required')?.data.request_id;
    const continued = parseSse(
      await (await b.post('/approve', { session_id, request_id, approve: true, stream: true })).text(),
    );
    expect(continued.map((event) => event.event)).toEqual(['session', 'tool_call', 'tool_result', 'token', 'done']);
    const lastOnA = Math.max(...first.map((event) => Number(event.id.split('.')[1])));
    const firstOnB = Number(continued[0].id.split('.')[1]);
    expect(firstOnB).toBeGreaterThan(lastOnA);
    // And a resume anywhere from A's last id gets B's events, once.
    const resumed = parseSse(
      await (
        await a.app.request(`/events?session_id=${session_id}`, {
          headers: { 'last-event-id': first.at(-1)?.id as string },
        })
      ).text(),
    );
    expect(resumed).toEqual(continued);
  });

  it('a turn whose client left A is not stopped after the resume grace while a stream follows it on B', async () => {
    const clock = createManualClock(Date.now());
    const {
      apps: [a, b],
    } = await deployment(2, { config: { resumeGrace: 10_000 }, clocks: [clock, undefined] });
    const { session_id } = await json(await a.post('/start_session', {}));
    const hold = createHold(1);
    upstream.reply({ text: ['one ', 'two'], holds: [hold] });
    // A JSON client on A that goes away: nobody follows the turn on A any more.
    const leaving = new AbortController();
    const onA = a.app.request('/user_request', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: 'talk', session_id }),
      signal: leaving.signal,
    });
    await hold.reached;
    const resumed = openStream(await b.app.request(`/events?session_id=${session_id}`));
    await resumed.until((text) => text.includes('one'));
    leaving.abort();
    expect((await onA).status).toBe(499);
    // B says it follows the turn; A's grace runs out, and A asks (its answer comes before the PING's).
    await until(async () => (await b.opened.coordinator.followedElsewhere(session_id)) === true);
    await clock.advance(15_000);
    await a.opened.connection.send(['PING']);
    hold.release();
    const rest = parseSse(await resumed.rest());
    expect(rest.at(-1)).toMatchObject({ event: 'done', data: { message: 'one two' } });
    expect(rest.at(-1)?.data.stopped).toBeUndefined();
  });
});

/** Resolves once `condition()` holds, asking again after each answer. */
async function until(condition: () => Promise<boolean>) {
  const deadline = Date.now() + 10_000;
  while (!(await condition())) if (Date.now() > deadline) throw new Error('the condition never held');
}
