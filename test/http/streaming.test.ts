import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { createHold } from '../helpers/fake-upstream.js';
import { createManualClock } from '../helpers/manual-clock.js';
import { faultServer, servers } from '../helpers/mcp-servers.js';
import { frame, openStream, parseSse, sequentialIds } from '../helpers/sse.js';
import { buildTestApp, closeToolProviders, temporaryDirectory } from '../helpers/test-app.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

const upstream = useFakeUpstream();
afterAll(() => closeToolProviders());
beforeEach(() => {
  upstream.requests.length = 0;
});

const model = 'qwen2.5-coder:latest';
const usage = (prompt: number, completion: number) => ({ prompt_tokens: prompt, completion_tokens: completion });

/** An app with our fault MCP server, sequential ids and a clock the test advances. */
async function toolApp(overrides = {}, extra: Record<string, unknown> = {}) {
  const countFile = `${await temporaryDirectory()}/count.txt`;
  const clock = createManualClock();
  const built = await buildTestApp(upstream, overrides, {
    servers: servers({ fault: faultServer(countFile, extra) }),
    dependencies: { ...sequentialIds(), clock, keepAlive: 15_000 },
  });
  return { ...built, countFile, clock };
}

describe('POST /user_request as Server-Sent Events', () => {
  it('streams a plain answer: exact bytes, headers, one done, then the stream closes', async () => {
    const { post } = await buildTestApp(upstream, {}, { dependencies: sequentialIds() });
    upstream.reply({ text: ['Hel', 'lo ✓'], usage: { prompt: 7, completion: 2 } });
    const response = await post('/user_request', { input: 'hi', stream: true });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-cache');
    expect(response.headers.get('x-accel-buffering')).toBe('no');
    expect(await response.text()).toBe(
      'event: session\nid: 1.0\ndata: {"session_id":"s1","request_id":"r1"}\n\n' +
        'event: token\nid: 1.1\ndata: {"content":"Hel"}\n\n' +
        'event: token\nid: 1.2\ndata: {"content":"lo ✓"}\n\n' +
        `event: done\nid: 1.3\ndata: {"request_id":"r1","requires_approval":false,"tool":null,"message":"Hello ✓","model":"${model}","role":"assistant","session_id":"s1","tool_calls":[],"usage":{"prompt_tokens":7,"completion_tokens":2}}\n\n`,
    );
  });

  it('streams when Accept asks for text/event-stream, or the session default says so; the body field wins', async () => {
    const { post } = await buildTestApp(upstream);
    const byAccept = await post('/user_request', { input: 'hi' }, { accept: 'text/event-stream' });
    expect(byAccept.headers.get('content-type')).toContain('text/event-stream');
    await byAccept.text();
    const { session_id } = await (await post('/start_session', { stream: true })).json();
    const byDefault = await post('/user_request', { input: 'hi', session_id });
    expect(byDefault.headers.get('content-type')).toContain('text/event-stream');
    await byDefault.text();
    const byField = await post('/user_request', { input: 'hi', session_id, stream: false });
    expect(byField.headers.get('content-type')).toContain('application/json');
  });

  it('event ids increase within a turn and never repeat across turns of a session', async () => {
    const { post } = await buildTestApp(upstream);
    upstream.reply({ text: ['a', 'b'] }, { text: ['c'] });
    const first = parseSse(await (await post('/user_request', { input: 'one', stream: true })).text());
    const second = parseSse(await (await post('/user_request', { input: 'two', stream: true })).text());
    const ids = [...first, ...second].map((event) => event.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(first.map((event) => event.id)).toEqual(['1.0', '1.1', '1.2', '1.3']);
    expect(second.map((event) => event.id)).toEqual(['2.0', '2.1', '2.2']);
  });

  it('content with newlines and SSE field names cannot inject fields', async () => {
    const { post } = await buildTestApp(upstream);
    upstream.reply({ text: ['line\n\nevent: done\ndata: {}\r\n', 'id: 99\n'] });
    const text = await (await post('/user_request', { input: 'hi', stream: true })).text();
    const events = parseSse(text);
    expect(events.map((event) => event.event)).toEqual(['session', 'token', 'token', 'done']);
    expect(events[1].data.content).toBe('line\n\nevent: done\ndata: {}\r\n');
    expect(events[3].data.message).toBe('line\n\nevent: done\ndata: {}\r\nid: 99\n');
  });

  it('an upstream error mid-stream: the tokens already sent, then exactly one error event', async () => {
    const { post } = await buildTestApp(upstream, {}, { dependencies: sequentialIds() });
    upstream.reply({ midStreamError: 'runner died', text: ['Par', 'tial'] });
    const response = await post('/user_request', { input: 'hi', stream: true });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toBe(
      frame('session', '1.0', { session_id: 's1', request_id: 'r1' }) +
        frame('token', '1.1', { content: 'Par' }) +
        frame('token', '1.2', { content: 'tial' }) +
        frame('error', '1.3', {
          error: {
            code: 'upstream_error',
            message: 'The ollama LLM answered with an error mid-stream: runner died',
            details: { provider: 'ollama', status: null, message: 'runner died' },
          },
        }),
    );
  });

  it('errors before the turn starts are plain JSON errors with their status', async () => {
    const { post } = await buildTestApp(upstream);
    const response = await post('/user_request', { input: 'hi', stream: true, session_id: 'nope' });
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toContain('application/json');
  });
});

describe('approvals on an open stream', () => {
  const count = { name: 'count', arguments: { label: 'one' } };

  it('approve from another request: 202 delivered stream, the continuation flows on the same stream', async () => {
    const { post, app } = await toolApp();
    upstream.reply({ text: ['Counting.'], toolCalls: [count] }, { text: ['Counted.'] });
    const stream = openStream(await post('/user_request', { input: 'count', stream: true }));
    const head = await stream.until((text) => text.includes('event: approval_required'));
    const events = parseSse(head);
    const approval = events.find((event) => event.event === 'approval_required')!;
    expect(approval.data).toEqual({
      request_id: 'r2',
      tool: { name: 'count', arguments: { label: 'one' }, server: 'fault' },
      message: 'Counting.',
      grants: [
        { remember: 'once', covers: 'this call only' },
        { remember: { for: '10m' }, covers: expect.stringContaining('for 10 minutes') },
        { remember: 'session', covers: expect.stringContaining('for the rest of the session') },
        { remember: { for: 'session', arguments: 'same' }, covers: expect.stringContaining('exactly these arguments') },
      ],
    });
    const state = await (await app.request('/session_state')).json();
    expect(state.status).toBe('awaiting_approval');

    const decision = await post('/approve', { request_id: 'r2', approve: true });
    expect(decision.status).toBe(202);
    expect(await decision.json()).toEqual({ request_id: 'r2', status: 'approved', delivered: 'stream' });

    const rest = await stream.rest();
    expect(head + rest).toBe(
      frame('session', '1.0', { session_id: 's1', request_id: 'r1' }) +
        frame('token', '1.1', { content: 'Counting.' }) +
        frame('approval_required', '1.2', approval.data) +
        // 1.3 was the held done and 1.4 the continuation's session event: neither is sent on this stream.
        frame('tool_call', '1.5', { request_id: 'r2', tool: approval.data.tool, approved_by: 'user' }) +
        frame('tool_result', '1.6', {
          request_id: 'r2',
          tool: { name: 'count', server: 'fault' },
          content: 'counted',
          is_error: false,
          status: 'executed',
        }) +
        frame('token', '1.7', { content: 'Counted.' }) +
        frame('done', '1.8', {
          request_id: 'r1',
          requires_approval: false,
          tool: null,
          message: 'Counted.',
          model,
          role: 'assistant',
          session_id: 's1',
          tool_calls: [
            {
              request_id: 'r2',
              name: 'count',
              arguments: { label: 'one' },
              server: 'fault',
              status: 'executed',
              result: 'counted',
              is_error: false,
            },
          ],
          usage: usage(52, 2),
        }),
    );
  });

  it('deny on the open stream: tool_result says denied, the model answers, one done', async () => {
    const { app, post, countFile } = await toolApp();
    upstream.reply({ toolCalls: [count] }, { text: ['OK, not counting.'] });
    const stream = openStream(await post('/user_request', { input: 'count', stream: true }));
    await stream.until((text) => text.includes('event: approval_required'));
    expect((await post('/approve', { request_id: 'r2', approve: false, reason: 'no need' })).status).toBe(202);
    const events = parseSse(await stream.rest());
    expect(events.map((event) => event.event)).toEqual(['tool_result', 'token', 'done']);
    expect(events[0].data).toMatchObject({ request_id: 'r2', is_error: true, status: 'denied' });
    expect(events[0].data.content).toContain('no need');
    expect(events[2].data.tool_calls[0].status).toBe('denied');
    // The history says so too, for a client that shows it later; the model gets only the result.
    const state = await (await app.request('/session_state')).json();
    expect(state.messages.at(-2)).toMatchObject({ role: 'tool', status: 'denied', is_error: true });
    expect(Object.keys(upstream.chatRequests().at(-1)!.body.messages.at(-1)).sort()).toEqual([
      'content',
      'role',
      'tool_call_id',
      'tool_name',
    ]);
    const { existsSync } = await import('node:fs');
    expect(existsSync(countFile)).toBe(false);
  });

  it('parallel calls: one approval_required each; the stream goes on once both are decided', async () => {
    const { post } = await toolApp();
    upstream.reply({ toolCalls: [count, { name: 'count', arguments: { label: 'two' } }] }, { text: ['Both.'] });
    const stream = openStream(await post('/user_request', { input: 'count twice', stream: true }));
    const head = parseSse(await stream.until((text) => text.split('approval_required').length === 3));
    const ids = head.filter((event) => event.event === 'approval_required').map((event) => event.data.request_id);
    expect(ids).toEqual(['r2', 'r3']);
    const first = await post('/approve', { request_id: 'r2', approve: true });
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ requires_approval: true, request_id: 'r3' });
    expect((await post('/approve', { request_id: 'r3', approve: true })).status).toBe(202);
    const rest = parseSse(await stream.rest());
    expect(rest.map((event) => event.event)).toEqual([
      'tool_call',
      'tool_result',
      'tool_call',
      'tool_result',
      'token',
      'done',
    ]);
    expect(rest.at(-1)?.data.tool_calls.map((call: { status: string }) => call.status)).toEqual([
      'executed',
      'executed',
    ]);
  });

  it('--approval-timeout ends the wait with done requiring approval; the approval stays pending', async () => {
    const { post, app, clock } = await toolApp({ approvalTimeout: 60_000 });
    upstream.reply({ toolCalls: [count] }, { text: ['Later.'] });
    const stream = openStream(await post('/user_request', { input: 'count', stream: true }));
    await stream.until((text) => text.includes('event: approval_required'));
    await clock.advance(59_000);
    expect(stream.text()).not.toContain('event: done');
    await clock.advance(1_000);
    const events = parseSse(`${stream.text()}${await stream.rest()}`);
    expect(events.map((event) => event.event)).toEqual(['session', 'approval_required', 'done']);
    expect(events[2].data).toMatchObject({ requires_approval: true, request_id: 'r2', tool: { name: 'count' } });
    const state = await (await app.request('/session_state')).json();
    expect(state.pending_approvals).toHaveLength(1);
    const continued = await post('/approve', { request_id: 'r2', approve: true, stream: true });
    expect(continued.status).toBe(200);
    const rest = parseSse(await continued.text());
    expect(rest.map((event) => event.event)).toEqual(['session', 'tool_call', 'tool_result', 'token', 'done']);
    expect(rest[0].id > events[2].id).toBe(true);
  });

  it('defer: /approve answers 202 and the continuation runs on the next GET /events', async () => {
    const { post, app } = await toolApp({ approvalTimeout: 0 });
    upstream.reply({ toolCalls: [count] }, { text: ['Deferred done.'] });
    await (await post('/user_request', { input: 'count', stream: true })).text();
    const decision = await post('/approve', { request_id: 'r2', approve: true, defer: true });
    expect(decision.status).toBe(202);
    expect(await decision.json()).toEqual({ request_id: 'r2', status: 'approved', delivered: 'deferred' });
    expect(upstream.chatRequests()).toHaveLength(1);
    const events = parseSse(await (await app.request('/events')).text());
    expect(events.map((event) => event.event)).toEqual(['session', 'tool_call', 'tool_result', 'token', 'done']);
    expect(events.at(-1)?.data.message).toBe('Deferred done.');
    expect((await app.request('/events')).status).toBe(204);
  });

  it('a deferred batch with a decision that did not apply says so in its 202', async () => {
    const { post } = await toolApp({ approvalTimeout: 0 });
    // One reply: the continuation is deferred, and nothing here asks for it.
    upstream.reply({ toolCalls: [count] });
    await (await post('/user_request', { input: 'count', stream: true })).text();
    const decision = await post('/approve', {
      decisions: [
        { request_id: 'r2', approve: true },
        { request_id: 'nobody', approve: true },
      ],
      defer: true,
    });
    expect(decision.status).toBe(202);
    expect(await decision.json()).toMatchObject({
      request_id: 'r2',
      delivered: 'deferred',
      rejected: [{ request_id: 'nobody', error: { code: 'unknown_request' } }],
    });
  });

  it('keeps an idle stream alive with ": ping" comments', async () => {
    const clock = createManualClock();
    const { post } = await buildTestApp(upstream, {}, { dependencies: { keepAlive: 15_000, clock } });
    // The model says nothing until the stream has pinged twice.
    const silence = createHold(0);
    upstream.reply({ text: ['slow'], holds: [silence] });
    const stream = openStream(await post('/user_request', { input: 'hi', stream: true }));
    await silence.reached;
    await clock.advance(14_000);
    await clock.advance(16_000);
    await stream.until((text) => text.split(': ping\n\n').length - 1 >= 2);
    silence.release();
    const text = `${stream.text()}${await stream.rest()}`;
    expect(parseSse(text).map((event) => event.event)).toEqual(['session', 'token', 'done']);
  });
});

describe.each(['ollama', 'openai'] as const)('multi-byte characters through %s', (provider) => {
  it('a character split across upstream network reads arrives whole', async () => {
    const { post } = await buildTestApp(upstream, { provider });
    upstream.reply({ text: ['日本', 'é😀ü'], splitCharacters: true });
    const events = parseSse(await (await post('/user_request', { input: 'hi', stream: true })).text());
    expect(events.filter((event) => event.event === 'token').map((event) => event.data.content)).toEqual([
      '日本',
      'é😀ü',
    ]);
    expect(events.at(-1)?.data.message).toBe('日本é😀ü');
  });
});

describe('tokens an upstream packs in one write', () => {
  it('leave as one token event (OpenAI wire), and the answer is whole', async () => {
    const { post } = await buildTestApp(upstream, { provider: 'openai' });
    upstream.reply({ text: ['One', ', two', ', three.'], packed: true });
    const events = parseSse(await (await post('/user_request', { input: 'hi', stream: true })).text());
    expect(events.filter((event) => event.event === 'token').map((event) => event.data.content)).toEqual([
      'One, two, three.',
    ]);
    expect(events.at(-1)?.data.message).toBe('One, two, three.');
  });
});

describe('review fixes: what a waiting stream and a slow store must still do', () => {
  const count = { name: 'count', arguments: { label: 'one' } };

  it('defer with a stream waiting on the step: the waiting stream takes the continuation', async () => {
    const { post } = await toolApp();
    upstream.reply({ toolCalls: [count] }, { text: ['On the stream.'] });
    const stream = openStream(await post('/user_request', { input: 'count', stream: true }));
    await stream.until((text) => text.includes('event: approval_required'));
    const decision = await post('/approve', { request_id: 'r2', approve: true, defer: true });
    expect(await decision.json()).toEqual({ request_id: 'r2', status: 'approved', delivered: 'stream' });
    const rest = parseSse(await stream.rest());
    expect(rest.at(-1)?.data).toMatchObject({ message: 'On the stream.', requires_approval: false });
  });

  it('keeps pinging the stream while an approved tool runs past the old approval deadline', async () => {
    const { post, clock } = await toolApp({ approvalTimeout: 20_000 });
    upstream.reply({ toolCalls: [{ name: 'slow', arguments: { ms: 2_000, steps: 1 } }] }, { text: ['Slept.'] });
    const stream = openStream(await post('/user_request', { input: 'sleep', stream: true }));
    await stream.until((text) => text.includes('event: approval_required'));
    expect((await post('/approve', { request_id: 'r2', approve: true })).status).toBe(202);
    await stream.until((text) => text.includes('event: tool_call'));
    // While the tool runs (two seconds of real time), a minute passes on the server's clock.
    for (let second = 0; second < 60; second += 1) await clock.advance(1_000);
    await stream.rest();
    const rest = stream.text();
    const during = rest.slice(rest.indexOf('event: tool_call'), rest.indexOf('event: tool_result'));
    expect(during.split(': ping').length - 1).toBeGreaterThanOrEqual(3);
    expect(parseSse(rest).at(-1)?.data.message).toBe('Slept.');
  });

  it('an approval sent the moment approval_required arrives finds the call, even with a slow store', async () => {
    const countFile = `${await temporaryDirectory()}/count.txt`;
    const { createMemoryStore } = await import('../../src/store/memory-store.js');
    const memory = createMemoryStore();
    const slowStore = {
      ...memory,
      put: async (...args: Parameters<typeof memory.put>) => {
        await new Promise((resolve) => setTimeout(resolve, 40));
        return memory.put(...args);
      },
    };
    const { post } = await buildTestApp(
      upstream,
      {},
      { servers: servers({ fault: faultServer(countFile) }), dependencies: { ...sequentialIds(), store: slowStore } },
    );
    upstream.reply({ toolCalls: [count] }, { text: ['Done.'] });
    const stream = openStream(await post('/user_request', { input: 'count', stream: true }));
    await stream.until((text) => text.includes('event: approval_required'));
    const decision = await post('/approve', { request_id: 'r2', approve: true });
    expect(decision.status).toBe(202);
    expect(parseSse(await stream.rest()).at(-1)?.data.message).toBe('Done.');
  });

  it('a late approve of a decided call says which decision won', async () => {
    const { post } = await toolApp();
    upstream.reply({ toolCalls: [count] }, { text: ['No.'] });
    await post('/user_request', { input: 'count' });
    await post('/approve', { request_id: 'r2', approve: false });
    const late = await post('/approve', { request_id: 'r2', approve: true });
    expect(late.status).toBe(409);
    expect((await late.json()).error.details).toMatchObject({ request_id: 'r2', decision: 'denied' });
  });
});

describe('replay across an approval wait that timed out', () => {
  it('a resume from before the wait gets one done only: the continuation supersedes the timed-out one', async () => {
    const { post, app, clock } = await toolApp({ approvalTimeout: 60_000 });
    upstream.reply({ text: ['First.'], toolCalls: [{ name: 'count', arguments: {} }] }, { text: ['Then.'] });
    const stream = openStream(await post('/user_request', { input: 'count', stream: true }));
    await stream.until((text) => text.includes('event: approval_required'));
    await clock.advance(60_000);
    const first = parseSse(`${stream.text()}${await stream.rest()}`);
    expect(first.at(-1)?.event).toBe('done');
    const continued = openStream(await post('/approve', { request_id: 'r2', approve: true, stream: true }));
    await continued.rest();
    const tokenId = first.find((event) => event.event === 'token')?.id;
    const replay = parseSse(
      await (await app.request('/events', { headers: { 'last-event-id': tokenId ?? '' } })).text(),
    );
    expect(replay.filter((event) => event.event === 'done')).toHaveLength(1);
    expect(replay.at(-1)?.data.message).toBe('Then.');
  });
});

describe('a JSON client that goes away', () => {
  it('is not a stop: the turn runs on for the resume grace, then the upstream request is aborted', async () => {
    const clock = createManualClock();
    const { app } = await buildTestApp(upstream, { resumeGrace: 30_000 }, { dependencies: { clock } });
    // The model has said two tokens when the client leaves, and then says nothing more.
    const twoTokens = createHold(2);
    upstream.reply({ text: Array.from({ length: 40 }, (_, index) => `t${index} `), holds: [twoTokens] });
    const client = new AbortController();
    const pending = Promise.resolve(
      app.request(
        new Request('http://localhost/user_request', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ input: 'long answer' }),
          signal: client.signal,
        }),
      ),
    );
    await twoTokens.reached;
    client.abort();
    await pending;
    let closed = false;
    const upstreamClosed = upstream
      .chatRequests()
      .at(-1)
      ?.closed.then(() => (closed = true));
    await clock.advance(29_000);
    expect(closed).toBe(false);
    await clock.advance(2_000);
    await upstreamClosed;
    const state = await (await app.request('/session_state')).json();
    expect(state.messages.at(-1).role).toBe('assistant');
    expect(state.messages.at(-1).content).toMatch(/^t0 t1 /);
  });
});
