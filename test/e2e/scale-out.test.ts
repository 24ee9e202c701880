import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restartedToolText } from '../../src/chat/recover-turn.js';
import { createHold } from '../helpers/fake-upstream.js';
import { faultServer } from '../helpers/mcp-servers.js';
import { useRedisServer } from '../helpers/redis-server.js';
import { startServer } from '../helpers/server-process.js';
import { openStream, parseSse } from '../helpers/sse.js';
import { temporaryDirectory } from '../helpers/test-app.js';
import { untilLine } from '../helpers/until-line.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

// Three real server processes on one real Redis, reached directly (any load balancer would send a
// request to any of them): one session, one runner, any door.
const redis = useRedisServer();
const upstream = useFakeUpstream();

type Server = Awaited<ReturnType<typeof startServer>>;

const post = (server: Server, path: string, body: unknown) =>
  fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
const json = async (response: Response) => (await response.json()) as any;

let cwd: string;
let countFile: string;
let servers: Server[];
const start = () =>
  startServer(
    [
      '--ollama-base-url',
      upstream.url,
      '--store',
      'redis',
      '--redis-url',
      redis.url,
      '--servers-config',
      'servers.json',
      '--sessions-per-minute',
      '0',
    ],
    { cwd },
  );
const counted = async () => (await readFile(countFile, 'utf8').catch(() => '')).split('\n').filter(Boolean);

beforeAll(async () => {
  cwd = await temporaryDirectory('scale-out-');
  countFile = join(cwd, 'count.txt');
  const fault = faultServer(countFile, { autoApprove: ['hang'] });
  await writeFile(join(cwd, 'servers.json'), JSON.stringify({ mcpServers: { fault } }));
  servers = await Promise.all([start(), start(), start()]);
}, 120_000);
afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop()));
});

describe('three servers on one Redis', { timeout: 120_000 }, () => {
  it('a streaming turn on A approved on B: the continuation arrives on A’s stream, the tool runs once', async () => {
    const [a, b] = servers;
    const { session_id } = await json(await post(a, '/start_session', {}));
    upstream.reply({ toolCalls: [{ name: 'count', arguments: { label: 'approved-on-b' } }] }, { text: ['Counted.'] });
    const stream = openStream(await post(a, '/user_request', { input: 'count', session_id, stream: true }));
    const asked = parseSse(await stream.until((text) => text.includes('event: approval_required'), 30_000));
    const request_id = asked.at(-1)?.data.request_id;
    const approved = await post(b, '/approve', { session_id, request_id, approve: true });
    expect(approved.status).toBe(202);
    expect(await approved.json()).toEqual({ request_id, status: 'approved', delivered: 'stream' });
    const rest = parseSse(await stream.rest());
    expect(rest.map((event) => event.event)).toEqual(['tool_call', 'tool_result', 'token', 'done']);
    expect(rest.at(-1)?.data).toMatchObject({ message: 'Counted.', tool_calls: [{ status: 'executed' }] });
    expect(await counted()).toContain('approved-on-b');
    expect((await counted()).filter((line) => line === 'approved-on-b')).toHaveLength(1);
  });

  it('100 racing approvals spread over the three: one winner, one execution', async () => {
    const { session_id } = await json(await post(servers[0], '/start_session', {}));
    upstream.reply({ toolCalls: [{ name: 'count', arguments: { label: 'raced' } }] }, { text: ['Once.'] });
    const stream = openStream(await post(servers[0], '/user_request', { input: 'count', session_id, stream: true }));
    const asked = parseSse(await stream.until((text) => text.includes('event: approval_required'), 30_000));
    const request_id = asked.at(-1)?.data.request_id;
    const answers = await Promise.all(
      Array.from({ length: 100 }, (_, index) =>
        post(servers[index % 3], '/approve', { session_id, request_id, approve: true }).then(async (response) => ({
          status: response.status,
          body: await json(response),
        })),
      ),
    );
    const winners = answers.filter((answer) => answer.status === 202);
    expect(winners).toEqual([{ status: 202, body: { request_id, status: 'approved', delivered: 'stream' } }]);
    const losers = answers.filter((answer) => answer.status !== 202);
    expect(losers).toHaveLength(99);
    for (const loser of losers)
      expect(loser).toMatchObject({ status: 409, body: { error: { code: 'already_decided' } } });
    const rest = parseSse(await stream.rest());
    expect(rest.filter((event) => event.event === 'tool_call')).toHaveLength(1);
    expect(rest.at(-1)?.data).toMatchObject({ message: 'Once.' });
    expect((await counted()).filter((line) => line === 'raced')).toHaveLength(1);
  });

  it('a resume on C with Last-Event-ID: no gap, no duplicate, no second upstream request', async () => {
    const [a, , c] = servers;
    const { session_id } = await json(await post(a, '/start_session', {}));
    const words = Array.from({ length: 40 }, (_, index) => `w${index} `);
    const hold = createHold(20);
    upstream.reply({ text: words, holds: [hold] });
    const requests = upstream.chatRequests().length;
    const stream = openStream(await post(a, '/user_request', { input: 'talk', session_id, stream: true }));
    await hold.reached;
    const seen = parseSse(await stream.until((text) => text.includes('"w19 "'), 30_000));
    // The client drops its connection to A after event 1.10 and comes back through C.
    const lastId = seen.find((event) => event.data.content === 'w9 ')?.id as string;
    await stream.cancel();
    const resumed = openStream(
      await fetch(`${c.url}/events?session_id=${session_id}`, { headers: { 'last-event-id': lastId } }),
    );
    const replayed = parseSse(await resumed.until((text) => text.includes('"w19 "'), 30_000));
    hold.release();
    const events = [...replayed, ...parseSse(await resumed.rest())];
    expect(events.filter((event) => event.event === 'token').map((event) => event.data.content)).toEqual(
      words.slice(10),
    );
    expect(events.map((event) => event.id)).toEqual(events.map((_, index) => `1.${11 + index}`));
    expect(events.at(-1)).toMatchObject({ event: 'done', data: { message: words.join('') } });
    expect(upstream.chatRequests()).toHaveLength(requests + 1);
  });

  it('POST /stop on B stops the turn running on A within a second', async () => {
    const [a, b] = servers;
    const { session_id } = await json(await post(a, '/start_session', {}));
    const hold = createHold(1);
    upstream.reply({ text: ['partial', ' never'], holds: [hold] });
    const stream = openStream(await post(a, '/user_request', { input: 'talk', session_id, stream: true }));
    await stream.until((text) => text.includes('"partial"'), 30_000);
    const asked = Date.now();
    expect((await post(b, '/stop', { session_id })).status).toBe(200);
    const rest = parseSse(await stream.rest());
    expect(Date.now() - asked).toBeLessThan(1000);
    expect(rest.at(-1)).toMatchObject({ event: 'done', data: { stopped: true, message: 'partial' } });
    hold.release();
  });

  it('SIGKILL of the server running a turn: the others take over, nothing runs twice', async () => {
    const [a, b, c] = servers;
    // A turn that runs a tool when A dies, followed from C; and a call waiting on approval.
    const { session_id: running } = await json(await post(a, '/start_session', {}));
    upstream.reply({ text: ['Let me wait.'], toolCalls: [{ name: 'hang', arguments: {} }] });
    const stream = openStream(await post(a, '/user_request', { input: 'hang', session_id: running, stream: true }));
    const seen = parseSse(await stream.until((text) => text.includes('event: tool_call'), 30_000));
    await untilLine(countFile, 'hang-start');
    const follower = openStream(
      await fetch(`${c.url}/events?session_id=${running}`, { headers: { 'last-event-id': seen[1].id } }),
    );
    const { session_id: waiting } = await json(await post(a, '/start_session', {}));
    upstream.reply({ toolCalls: [{ name: 'count', arguments: { label: 'after-the-kill' } }] });
    const asked = await json(await post(a, '/user_request', { input: 'count', session_id: waiting }));
    expect(asked.requires_approval).toBe(true);

    await a.kill();
    // C's follower gets the events up to the crash, then `interrupted`, once the lease is gone.
    const rest = parseSse(await follower.rest());
    expect(rest.map((event) => event.event)).toEqual(['tool_call', 'error']);
    expect(rest.at(-1)?.data.error.code).toBe('interrupted');
    const state = await json(await fetch(`${b.url}/session_state?session_id=${running}`));
    expect(state).toMatchObject({ status: 'idle' });
    expect(state.messages.at(-1)).toMatchObject({ role: 'tool', content: restartedToolText });

    upstream.reply({ text: ['Counted after the kill.'] });
    const approved = await post(b, '/approve', { session_id: waiting, request_id: asked.request_id, approve: true });
    expect(await json(approved)).toMatchObject({ message: 'Counted after the kill.' });
    const again = await post(c, '/approve', { session_id: waiting, request_id: asked.request_id, approve: true });
    expect((await json(again)).error.code).toBe('already_decided');
    const lines = await counted();
    expect(lines.filter((line) => line === 'hang-start')).toHaveLength(1);
    expect(lines.filter((line) => line === 'after-the-kill')).toHaveLength(1);
    servers[0] = await start();
  });
});
