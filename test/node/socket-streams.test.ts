import { once } from 'node:events';
import { request as httpRequest, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { type ServerType, serve } from '@hono/node-server';
import { Hono } from 'hono';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createPrometheusMetrics } from '../../src/node/prometheus-metrics.js';
import { socketEventStreams, withSocketStreams } from '../../src/node/socket-streams.js';
import { createHold } from '../helpers/fake-upstream.js';
import { parseSamples, sampleValue } from '../helpers/prometheus-text.js';
import { parseSse } from '../helpers/sse.js';
import { buildTestApp } from '../helpers/test-app.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

// The Node entry's event streams: the app behind @hono/node-server as the entry serves it, each
// event stream written straight to the socket.
const upstream = useFakeUpstream({ each: true });
let server: ServerType | undefined;
afterEach(() => {
  server?.close();
  server = undefined;
});

async function served(limit = 4096) {
  const built = await buildTestApp(
    upstream,
    { maxStreamBufferBytes: limit },
    {
      dependencies: {
        eventStreams: socketEventStreams(limit),
        metrics: createPrometheusMetrics({ processMetrics: false }),
      },
    },
  );
  const port = await new Promise<number>((resolve) => {
    server = serve({ fetch: withSocketStreams(built.app.fetch), hostname: '127.0.0.1', port: 0 }, (info) =>
      resolve(info.port),
    );
  });
  const url = `http://127.0.0.1:${port}`;
  const openStreams = async () =>
    sampleValue(parseSamples(await (await fetch(`${url}/metrics`)).text()), 'llm_chat_open_streams');
  const message = async () => {
    const state = await (await fetch(`${url}/session_state`)).json();
    const last = state.messages.at(-1)?.content as string | undefined;
    return { status: state.status as string, length: last?.length, end: last?.slice(-12) };
  };
  return { ...built, url, openStreams, message };
}

const ask = (url: string, input: string) =>
  fetch(`${url}/user_request`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ input, stream: true }),
  });

/** Headers that say something of the response itself (not of the connection). */
const ownHeaders = (response: Response) =>
  [...response.headers.keys()].filter(
    (name) => !['date', 'connection', 'keep-alive', 'transfer-encoding'].includes(name),
  );

describe('event streams written to the socket (Node)', () => {
  it('carry the events of a turn, with every header the app gives an event stream and no other', async () => {
    const { url, app } = await served();
    upstream.reply({ text: ['Hel', 'lo'] }, { text: ['Hel', 'lo'] });
    const response = await ask(url, 'hi');
    expect(response.status).toBe(200);
    const events = parseSse(await response.text());
    expect(events.map((event) => event.event)).toEqual(['session', 'token', 'token', 'done']);
    expect(events.at(-1)?.data.message).toBe('Hello');

    // The same request answered with a web stream (no socket: app.request) has the same headers.
    const web = await app.request('/user_request', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: 'hi', stream: true }),
    });
    await web.text();
    expect(ownHeaders(response).sort()).toEqual(ownHeaders(web).sort());
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(response.headers.get('x-request-id')).toBeTruthy();
  });

  it('a client that goes away stops counting as a stream at once; the turn goes on to its end', async () => {
    const { url, openStreams, message } = await served();
    const hold = createHold(1);
    upstream.reply({ text: ['first ', 'second'], holds: [hold] });
    const outgoing = httpRequest(`${url}/user_request`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    });
    const firstToken = new Promise<void>((resolve) =>
      outgoing.on('response', (incoming) => {
        let text = '';
        incoming.on('data', (chunk) => {
          text += chunk;
          if (text.includes('event: token')) resolve();
        });
        incoming.on('error', () => {});
      }),
    );
    outgoing.on('error', () => {});
    outgoing.end(JSON.stringify({ input: 'go', stream: true }));
    await firstToken;
    await hold.reached;
    expect(await openStreams()).toBe(1);
    outgoing.destroy();
    // While the model still holds its answer: only the client's leaving can end the stream.
    await vi.waitFor(async () => expect(await openStreams()).toBe(0));
    hold.release();
    await vi.waitFor(async () => expect(await message()).toEqual({ status: 'idle', length: 12, end: 'first second' }));
  });

  it('a follower with nothing to replay gets the headers at once, before the turn says more', async () => {
    const { url } = await served();
    const hold = createHold(1);
    upstream.reply({ text: ['first ', 'second'], holds: [hold] });
    const turn = await ask(url, 'go');
    const reader = turn.body?.getReader() as ReadableStreamDefaultReader<Uint8Array>;
    let seen = '';
    while (!seen.includes('event: token')) seen += new TextDecoder().decode((await reader.read()).value);
    await hold.reached;
    const lastId = parseSse(seen).at(-1)?.id as string;
    // Caught up with the turn: the response's headers come while the model still holds its answer.
    const follower = await fetch(`${url}/events`, { headers: { 'last-event-id': lastId } });
    expect(follower.status).toBe(200);
    expect(follower.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    hold.release();
    const rest = parseSse(await follower.text());
    expect(rest.map((event) => event.event)).toEqual(['token', 'done']);
    while (!(await reader.read()).done);
  });

  it('a client that reads late gets the whole answer once it reads: the socket draining sends the rest', async () => {
    // The limit is above the answer: the frames wait behind a full socket, and go as it drains.
    const { url, message } = await served(16 * 1024 * 1024);
    const chunks = Array.from({ length: 400 }, (_, index) => `${String(index).padStart(5, '0')}${'y'.repeat(19_995)}`);
    const answer = chunks.join('');
    upstream.reply({ text: chunks, delayMs: 1 });
    const { port } = new URL(url);
    const socket = connect(Number(port), '127.0.0.1');
    socket.pause();
    const body = JSON.stringify({ input: 'go', stream: true });
    socket.write(
      `POST /user_request HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
    );
    await vi.waitFor(
      async () => expect(await message()).toEqual({ status: 'idle', length: answer.length, end: answer.slice(-12) }),
      { timeout: 20_000 },
    );
    // The turn is over; what the socket could not take waits in the stream. Reading now gets it all.
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (received.endsWith('0\r\n\r\n')) socket.end();
    });
    socket.resume();
    await once(socket, 'close');
    expect(received.includes('event: done')).toBe(true);
    const tokens = received.match(/"content":"[0-9y]+"/g)?.join('') ?? '';
    expect(tokens.replace(/"content":"|"/g, '')).toBe(answer);
  }, 30_000);

  it('a client that does not read is dropped once more than the limit waits for it; the turn goes on', async () => {
    // 256 KiB may wait: more than one upstream read brings, so only a socket that does not take
    // the frames makes them wait. The answer, 8 MB in 20 KB reads a millisecond apart, is more
    // than the kernel's buffers hold for a client that never reads (some MiB at most).
    const { url, openStreams, message } = await served(262_144);
    const chunks = Array.from({ length: 400 }, (_, index) => `${String(index).padStart(5, '0')}${'x'.repeat(19_995)}`);
    upstream.reply({ text: chunks, delayMs: 1 });
    const { port } = new URL(url);
    const socket = connect(Number(port), '127.0.0.1');
    socket.pause();
    const body = JSON.stringify({ input: 'go', stream: true });
    socket.write(
      `POST /user_request HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
    );
    const answer = chunks.join('');
    await vi.waitFor(
      async () => expect(await message()).toEqual({ status: 'idle', length: answer.length, end: answer.slice(-12) }),
      { timeout: 20_000 },
    );
    expect(await openStreams()).toBe(0);
    // What reached the client before it was cut: less than the answer, and no end.
    let received = '';
    socket.on('data', (chunk) => {
      received += chunk;
    });
    await new Promise<void>((resolve) => {
      socket.on('close', () => resolve());
      socket.on('error', () => {});
      socket.resume();
    });
    expect(received.length).toBeLessThan(answer.length);
    expect(received.includes('event: done')).toBe(false);
  }, 30_000);
});

describe('a stream whose response does not leave (the Node wrapper)', () => {
  /**
   * Serves `app` (whose GET / answers with an event stream of a reader that records its calls)
   * through `withSocketStreams`, requests it once, and gives the reader's calls at the moment the
   * wrapper was done with the request.
   */
  async function callsOnceAnswered(
    around: (app: Hono) => void,
    wrapFetch: (fetch: Hono['fetch']) => Hono['fetch'] = (fetch) => fetch,
  ) {
    const calls: string[] = [];
    const reader = { connect: () => calls.push('connect'), pull: () => {}, cancel: () => calls.push('cancel') };
    const transport = socketEventStreams(4096);
    const app = new Hono();
    app.onError((_error, c) => c.text('failed', 500));
    around(app);
    app.get('/', (c) => transport(c, reader));
    const wrapped = withSocketStreams(wrapFetch(app.fetch));
    let answered!: (calls: string[]) => void;
    const done = new Promise<string[]>((resolve) => (answered = resolve));
    const port = await new Promise<number>((resolve) => {
      server = serve(
        {
          fetch: async (request, bindings) => {
            try {
              return await wrapped(request, bindings);
            } finally {
              answered([...calls]);
            }
          },
          hostname: '127.0.0.1',
          port: 0,
        },
        (info) => resolve(info.port),
      );
    });
    const status = fetch(`http://127.0.0.1:${port}/`).then(
      (response) => response.status,
      () => 0,
    );
    return { calls: await done, status };
  }

  it('is left when an error answers in its place, which leaves as it is', async () => {
    const { calls, status } = await callsOnceAnswered((app) =>
      app.use(async (_c, next) => {
        await next();
        throw new Error('after the handler');
      }),
    );
    expect(calls).toEqual(['cancel']);
    expect(await status).toBe(500);
  });

  it('is left when the client went away before the answer could leave', async () => {
    const { calls } = await callsOnceAnswered((app) =>
      app.use(async (c, next) => {
        await next();
        const outgoing = (c.env as { outgoing: ServerResponse }).outgoing;
        outgoing.socket?.destroy();
        await once(outgoing, 'close');
      }),
    );
    expect(calls).toEqual(['cancel']);
  });

  it('is left when the app fails altogether', async () => {
    const { calls } = await callsOnceAnswered(
      () => {},
      (fetch) => async (request, env) => {
        await fetch(request, env);
        throw new Error('the app failed');
      },
    );
    expect(calls).toEqual(['cancel']);
  });
});
