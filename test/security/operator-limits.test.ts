import { connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/node/load-config.js';
import { startServer } from '../helpers/server-process.js';
import { openStream, parseSse } from '../helpers/sse.js';
import { buildTestApp, temporaryDirectory } from '../helpers/test-app.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

// Limits an operator sets: which models and how large a context a client may ask for, and how long
// a client may take to send its request, so a slow one cannot hold connections open.

const upstream = useFakeUpstream();

describe('--allowed-models', () => {
  it('a session asking for another model gets 400 model_not_allowed naming the allowed ones', async () => {
    const { post } = await buildTestApp(upstream, { model: 'default-model', allowedModels: ['small', 'large'] });
    const response = await post('/start_session', { model: 'huge' });
    expect(response.status).toBe(400);
    const body = await response.json();
    expect(body.error.code).toBe('model_not_allowed');
    expect(body.error.details).toEqual({ allowed_models: ['default-model', 'small', 'large'] });
    expect(body.error.message).toContain('small, large');
  });

  it('the listed models and the default model are allowed', async () => {
    const { post } = await buildTestApp(upstream, { model: 'default-model', allowedModels: ['small'] });
    expect((await post('/start_session', { model: 'small' })).status).toBe(201);
    expect((await post('/start_session', { model: 'default-model' })).status).toBe(201);
    expect((await post('/start_session', {})).status).toBe(201);
  });

  it('unset, any model is allowed', async () => {
    const { post } = await buildTestApp(upstream);
    expect((await post('/start_session', { model: 'anything:7b' })).status).toBe(201);
  });
});

describe('--max-context-window-size', () => {
  it('a session may not ask for a larger context window', async () => {
    const { post } = await buildTestApp(upstream, { maxContextWindowSize: 8192 });
    const response = await post('/start_session', { context_window_size: 8193 });
    expect(response.status).toBe(400);
    const body = await response.json();
    expect(body.error.code).toBe('invalid_request');
    expect(body.error.details).toEqual({ max_context_window_size: 8192 });
    expect((await post('/start_session', { context_window_size: 8192 })).status).toBe(201);
  });

  it('may not be below the default context window size', () => {
    const loaded = loadConfig({
      argv: ['--max-context-window-size', '1024'],
      env: {},
      cwd: '/',
      readEnvFile: () => '',
    });
    expect(loaded).toMatchObject({ kind: 'error' });
    expect(loaded.kind === 'error' && loaded.message).toContain('--context-window-size');
  });
});

/** Resolves with what the server sent before it closed the connection. */
function closed(socket: Socket): Promise<string> {
  let received = '';
  socket.on('data', (chunk) => {
    received += chunk;
  });
  return new Promise((resolve) => socket.on('close', () => resolve(received)));
}

/** A client that sends `head` and then one byte of `trickle` every 100 ms, never finishing. */
function slowClient(url: string, head: string, trickle: string) {
  const { port } = new URL(url);
  const socket = connect(Number(port), '127.0.0.1');
  socket.write(head);
  let index = 0;
  const timer = setInterval(() => socket.write(trickle[index++ % trickle.length]), 100);
  socket.on('close', () => clearInterval(timer));
  socket.on('error', () => clearInterval(timer));
  return { socket, done: closed(socket) };
}

describe('request timeouts on Node', () => {
  it('cuts a client that sends its headers or body too slowly, not a stream that waits longer', async () => {
    const cwd = await temporaryDirectory();
    const server = await startServer(
      ['--ollama-base-url', upstream.url, '--headers-timeout', '1s', '--request-timeout', '2s'],
      { cwd },
    );
    try {
      // A stream that outlives the request timeout: the answer comes only when we release it.
      upstream.reply({ hang: true });
      const response = await fetch(`${server.url}/user_request`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify({ input: 'wait', stream: true }),
      });
      expect(response.status).toBe(200);
      const stream = openStream(response);
      await stream.until((text) => text.includes('event: session'));

      const started = Date.now();
      const headers = slowClient(server.url, 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n', 'X-Slow: a\r\n');
      const answer = await headers.done;
      expect(answer === '' || answer.startsWith('HTTP/1.1 408')).toBe(true);
      expect(Date.now() - started).toBeLessThan(1000 + 2000);

      const body = slowClient(
        server.url,
        'POST /start_session HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n',
        ' ',
      );
      const bodyAnswer = await body.done;
      expect(bodyAnswer === '' || bodyAnswer.startsWith('HTTP/1.1 408')).toBe(true);
      // The server has now cut a request older than --request-timeout; the stream, older still, is open.
      expect(Date.now() - started).toBeGreaterThan(2000);
      await fetch(`${server.url}/stop`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      await stream.rest();
      const events = parseSse(stream.text());
      expect(events.at(-1)).toMatchObject({ event: 'done', data: { stopped: true } });
    } finally {
      await server.stop();
    }
  });
});
