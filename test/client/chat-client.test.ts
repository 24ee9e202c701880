/**
 * The typed client (`llm-chat-server/client`) against the real app, in process: its fetch is the
 * app's, so every byte is the server's own. A cut connection is a body that errors after some
 * events, as a dropped network read does.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ChatClientError, createChatClient, type ReceivedEvent } from '../../src/client/index.js';
import { createHold } from '../helpers/fake-upstream.js';
import { faultServer, servers } from '../helpers/mcp-servers.js';
import { buildTestApp, closeToolProviders, temporaryDirectory } from '../helpers/test-app.js';
import { linesOf } from '../helpers/until-line.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

const upstream = useFakeUpstream({ each: true });
afterAll(closeToolProviders);

type App = Awaited<ReturnType<typeof buildTestApp>>['app'];

/** The app as the client's fetch; `cut(n)` makes the next stream's body fail after its n-th event. */
function appFetch(app: App) {
  const cuts: number[] = [];
  const seen: Array<{ method: string; url: string; lastEventId: string | null }> = [];
  const fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    seen.push({ method: request.method, url: request.url, lastEventId: request.headers.get('last-event-id') });
    const response = await app.request(request);
    const limit = response.headers.get('content-type')?.startsWith('text/event-stream') ? cuts.shift() : undefined;
    if (limit === undefined || !response.body) return response;
    let events = 0;
    const reader = response.body.getReader();
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        // Erroring a stream drops what it holds, so the cut comes on the read after the last event.
        if (events >= limit) {
          reader.cancel();
          return controller.error(new TypeError('network connection lost'));
        }
        const { value, done } = await reader.read();
        if (done) return controller.close();
        controller.enqueue(value);
        events += new TextDecoder().decode(value).split('\n\n').length - 1;
      },
    });
    return new Response(body, { status: response.status, headers: response.headers });
  };
  return { fetch: fetch as typeof globalThis.fetch, seen, cut: (after: number) => cuts.push(after) };
}

async function collect(events: AsyncIterable<ReceivedEvent>) {
  const all: ReceivedEvent[] = [];
  for await (const event of events) all.push(event);
  return all;
}

const text = (events: ReceivedEvent[]) =>
  events.map((event) => (event.event === 'token' ? event.data.content : '')).join('');

async function setup(options: { authToken?: string; approvalTimeout?: number; tools?: boolean } = {}) {
  const countFile = join(await temporaryDirectory(), 'count.txt');
  const { tools, ...config } = options;
  const built = await buildTestApp(upstream, config, {
    servers: tools ? servers({ fault: faultServer(countFile) }) : undefined,
  });
  const wire = appFetch(built.app);
  const client = createChatClient({ baseUrl: 'http://localhost', fetch: wire.fetch, wait: async () => {} });
  return { ...built, ...wire, client, countFile };
}

describe('the typed client', () => {
  it('streams a turn as typed events with their ids, session first and done last', async () => {
    const { client } = await setup();
    upstream.reply({ text: ['Hello', ', world'] });
    const session = await client.startSession({ temperature: 0.1 });
    const events = await collect(client.send('Hi', { sessionId: session.session_id }));
    expect(events.map((event) => event.event)).toEqual(['session', 'token', 'token', 'done']);
    expect(events.map((event) => event.id)).toEqual(['1.0', '1.1', '1.2', '1.3']);
    expect(text(events)).toBe('Hello, world');
    const done = events.at(-1)!;
    expect(done.event === 'done' && done.data.message).toBe('Hello, world');
    const state = await client.sessionState(session.session_id);
    expect(state.messages.slice(-2)).toEqual([
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello, world' },
    ]);
  });

  it('asks before a tool runs; approving continues the turn on the stream that waits for it', async () => {
    const { client, countFile } = await setup({ tools: true });
    upstream.reply({ toolCalls: [{ name: 'count', arguments: { label: 'one' } }] }, { text: ['Counted.'] });
    const { session_id: sessionId } = await client.startSession();
    const events: ReceivedEvent[] = [];
    for await (const event of client.send('Count', { sessionId })) {
      events.push(event);
      if (event.event !== 'approval_required') continue;
      expect(event.data.tool).toEqual({ name: 'count', arguments: { label: 'one' }, server: 'fault' });
      const blocked = await collect(client.send('Again', { sessionId })).catch((error) => error);
      expect(blocked).toBeInstanceOf(ChatClientError);
      expect(blocked).toMatchObject({
        code: 'approval_pending',
        status: 409,
        details: { request_ids: [event.data.request_id] },
      });
      expect(await client.approve(event.data.request_id, { sessionId })).toEqual({
        kind: 'accepted',
        request_id: event.data.request_id,
        status: 'approved',
        delivered: 'stream',
      });
    }
    expect(events.map((event) => event.event)).toEqual([
      'session',
      'approval_required',
      'tool_call',
      'tool_result',
      'token',
      'done',
    ]);
    expect(events[3]).toMatchObject({ data: { content: 'counted', is_error: false } });
    expect(text(events)).toBe('Counted.');
    expect(await linesOf(countFile)).toEqual(['one']);
  });

  it('decides with no stream waiting: the continuation comes as the answer; a denial tells the model why', async () => {
    const { client, countFile } = await setup({ tools: true, approvalTimeout: 0 });
    upstream.reply({ toolCalls: [{ name: 'count', arguments: {} }] }, { text: ['Fine.'] });
    const { session_id: sessionId } = await client.startSession();
    const first = await collect(client.send('Count', { sessionId }));
    expect(first.at(-1)).toMatchObject({ event: 'done', data: { requires_approval: true } });
    const [pending] = (await client.sessionState(sessionId)).pending_approvals;
    const outcome = await client.deny(pending.request_id, 'not today', { sessionId });
    expect(outcome.kind).toBe('continued');
    const rest = outcome.kind === 'continued' ? await collect(outcome.events) : [];
    expect(rest.map((event) => event.event)).toEqual(['session', 'tool_result', 'token', 'done']);
    expect(text(rest)).toBe('Fine.');
    const [, continuation] = await upstream.untilChatRequests(2);
    expect(continuation.body.messages.at(-1).content).toContain('not today');
    expect(await linesOf(countFile)).toEqual([]);
  });

  it('stops a running turn: its stream ends with done and stopped', async () => {
    const { client } = await setup();
    const { session_id: sessionId } = await client.startSession();
    const hold = createHold(1);
    upstream.reply({ text: ['Start ', 'never'], holds: [hold] });
    const events: ReceivedEvent[] = [];
    for await (const event of client.send('Long', { sessionId })) {
      events.push(event);
      if (event.event === 'token') await client.stop(sessionId);
    }
    hold.release();
    expect(events.at(-1)).toMatchObject({ event: 'done', data: { stopped: true } });
    expect(text(events)).toBe('Start ');
    await expect(client.stop(sessionId)).rejects.toMatchObject({ code: 'no_turn_running', status: 409 });
  });

  it('resumes a cut stream after the last event it saw, with no event twice', async () => {
    const { client, cut, seen } = await setup();
    const hold = createHold(2);
    upstream.reply({ text: ['one ', 'two ', 'three'], holds: [hold] });
    const { session_id: sessionId } = await client.startSession();
    cut(2);
    const reconnects: Array<{ attempt: number; after?: string }> = [];
    const events: ReceivedEvent[] = [];
    for await (const event of client.send('Count to three', {
      sessionId,
      onReconnecting: (attempt) => {
        reconnects.push({ attempt, after: events.at(-1)?.id });
        hold.release();
      },
    })) {
      events.push(event);
    }
    expect(reconnects.map(({ attempt }) => attempt)).toEqual([1]);
    expect(text(events)).toBe('one two three');
    expect(events.map((event) => event.id)).toEqual(['1.0', '1.1', '1.2', '1.3', '1.4']);
    expect(seen.at(-1)).toMatchObject({ method: 'GET', lastEventId: reconnects[0].after });
    expect(new URL(seen.at(-1)!.url).pathname).toBe('/events');
  });

  it('keeps trying while the server is unreachable, and replays what the turn sent meanwhile', async () => {
    const { app } = await setup();
    const wire = appFetch(app);
    let refused = 0;
    const flaky = createChatClient({
      baseUrl: 'http://localhost',
      wait: async () => {},
      fetch: (async (input: RequestInfo | URL, init?: RequestInit) => {
        if (new Headers(init?.headers).has('last-event-id') && refused++ < 3) throw new TypeError('fetch failed');
        return wire.fetch(input, init);
      }) as typeof fetch,
    });
    const { session_id: sessionId } = await flaky.startSession();
    upstream.reply({ text: ['short', ' answer'] });
    wire.cut(1);
    const attempts: number[] = [];
    const reconnected: number[] = [];
    const events = await collect(
      flaky.send('Hi', {
        sessionId,
        onReconnecting: (attempt) => attempts.push(attempt),
        onReconnected: () => reconnected.push(attempts.length),
      }),
    );
    expect(attempts).toEqual([1, 2, 3, 4]);
    expect(reconnected).toEqual([4]);
    expect(events.map((event) => event.event)).toEqual(['session', 'token', 'token', 'done']);
    expect(text(events)).toBe('short answer');
  });

  it('throws typed errors: the server code and status, or network_error', async () => {
    const { client } = await setup({ authToken: 'secret-token' });
    await expect(client.startSession()).rejects.toMatchObject({ code: 'unauthorized', status: 401 });
    const unreachable = createChatClient({
      baseUrl: 'http://localhost',
      fetch: (async () => {
        throw new TypeError('fetch failed');
      }) as typeof fetch,
    });
    await expect(unreachable.sessionState()).rejects.toMatchObject({ code: 'network_error', status: 0 });
  });

  it('sends the token as a bearer header, and in the EventSource URL', async () => {
    const { app } = await setup({ authToken: 'secret-token' });
    let token = 'wrong';
    const client = createChatClient({
      baseUrl: 'http://localhost',
      token: () => token,
      fetch: ((input: RequestInfo | URL, init?: RequestInit) => app.request(new Request(input, init))) as typeof fetch,
    });
    await expect(client.startSession()).rejects.toMatchObject({ code: 'unauthorized' });
    token = 'secret-token';
    const session = await client.startSession();
    expect(await client.sessionState(session.session_id)).toMatchObject({ status: 'idle' });
    const url = new URL(client.eventSourceUrl({ input: 'Hi there', sessionId: session.session_id }));
    expect(url.pathname).toBe('/user_request');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      input: 'Hi there',
      session_id: session.session_id,
      access_token: 'secret-token',
    });
  });
});
