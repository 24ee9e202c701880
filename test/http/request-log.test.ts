import { afterAll, describe, expect, it } from 'vitest';
import type { SessionHost } from '../../src/http/session-gate.js';
import { createModels } from '../../src/llm/create-models.js';
import { createLogger } from '../../src/logger.js';
import { createManualClock } from '../helpers/manual-clock.js';
import { faultServer, servers } from '../helpers/mcp-servers.js';
import { buildTestApp, closeToolProviders, temporaryDirectory } from '../helpers/test-app.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

const upstream = useFakeUpstream({ each: true });
afterAll(() => closeToolProviders());

const token = 'token-5e1f0c7a9b2d';
const requestLines = (logs: string[]) => logs.filter((line) => / INFO request /.test(line));
const fieldsOf = (line: string) => JSON.parse(line.slice(line.indexOf('{')));
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const requestId = expect.stringMatching(uuid);

describe('the request log', () => {
  it('logs one info line per request: method, path, status, duration, request id, session id when named', async () => {
    const { app, logs, post } = await buildTestApp(upstream);
    await app.request('/health');
    const { session_id } = await (await post('/start_session', {})).json();
    await app.request(`/session_state?session_id=${session_id}`);
    await app.request('/session_state', { headers: { 'x-session-id': 'no-such-session' } });
    await post('/user_request', { input: 'hi' });
    const lines = requestLines(logs);
    expect(lines).toHaveLength(5);
    expect(lines.map(fieldsOf)).toEqual([
      { method: 'GET', path: '/health', status: 200, duration_ms: expect.any(Number), request_id: requestId },
      { method: 'POST', path: '/start_session', status: 201, duration_ms: expect.any(Number), request_id: requestId },
      {
        method: 'GET',
        path: '/session_state',
        status: 200,
        duration_ms: expect.any(Number),
        request_id: requestId,
        session_id,
      },
      {
        method: 'GET',
        path: '/session_state',
        status: expect.any(Number),
        duration_ms: expect.any(Number),
        request_id: requestId,
        session_id: 'no-such-session',
      },
      { method: 'POST', path: '/user_request', status: 200, duration_ms: expect.any(Number), request_id: requestId },
    ]);
    expect(lines.join('\n')).not.toContain('"hi"');
  });

  it('logs a stream when its response starts, marked as a stream', async () => {
    const { logs, post } = await buildTestApp(upstream);
    upstream.reply({ text: ['a', 'b'] });
    const response = await post('/user_request', { input: 'hi', stream: true });
    expect(requestLines(logs).map(fieldsOf)).toEqual([
      {
        method: 'POST',
        path: '/user_request',
        status: 200,
        duration_ms: expect.any(Number),
        request_id: requestId,
        stream: true,
      },
    ]);
    await response.text();
  });

  it('never logs an access_token query value or the Authorization header', async () => {
    const { app, logs } = await buildTestApp(upstream, { authToken: token });
    await app.request(`/events?access_token=${token}`);
    await app.request('/session_state', { headers: { authorization: `Bearer ${token}` } });
    await app.request('/session_state?access_token=wrong-token-value', {
      headers: { authorization: 'Bearer nope-9d' },
    });
    const lines = requestLines(logs);
    expect(lines.map((line) => fieldsOf(line).path)).toEqual(['/events', '/session_state', '/session_state']);
    expect(lines.map((line) => fieldsOf(line).status)).toEqual([expect.any(Number), 200, 401]);
    const text = logs.join('\n');
    for (const secret of [token, 'wrong-token-value', 'nope-9d', 'access_token', 'Bearer']) {
      expect(text).not.toContain(secret);
    }
  });

  it('--log-format json: every line parses, with time, level, message and the fields', async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', format: 'json', write: (line) => lines.push(line) });
    const { app } = await buildTestApp(upstream, {}, { dependencies: { logger } });
    await app.request('/health?access_token=query-secret-1');
    const entries = lines.map((line) => JSON.parse(line));
    expect(entries).toEqual([
      {
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        level: 'info',
        message: 'request',
        method: 'GET',
        path: '/health',
        status: 200,
        duration_ms: expect.any(Number),
        request_id: requestId,
      },
    ]);
    expect(lines.join('\n')).not.toContain('query-secret-1');
  });

  it('answers every request with a new X-Request-Id, the one its line logs: JSON, stream, error, 404', async () => {
    const { app, logs, post } = await buildTestApp(upstream, { authToken: token });
    const auth = { authorization: `Bearer ${token}` };
    upstream.reply({ text: ['a'] });
    const responses = [
      await app.request('/health'),
      await post('/user_request', { input: 'hi', stream: true }, auth),
      await app.request('/session_state'),
      await app.request('/no-such-route', { headers: auth }),
    ];
    expect(responses.map((response) => response.status)).toEqual([200, 200, 401, 404]);
    expect(responses[1].headers.get('content-type')).toMatch(/^text\/event-stream/);
    await responses[1].text();
    const ids = responses.map((response) => response.headers.get('x-request-id'));
    for (const id of ids) expect(id).toMatch(uuid);
    expect(new Set(ids).size).toBe(ids.length);
    expect(requestLines(logs).map((line) => fieldsOf(line).request_id)).toEqual(ids);
  });

  it("keeps a client's X-Request-Id that is a plain token: echoed on every kind of response and logged", async () => {
    const { app, logs, post } = await buildTestApp(upstream);
    const ids = ['req-1', 'A.b_c:d-9', 'x'.repeat(128)];
    upstream.reply({ text: ['a'] });
    const responses = [
      await app.request('/health', { headers: { 'x-request-id': ids[0] } }),
      await post('/user_request', { input: 'hi', stream: true }, { 'x-request-id': ids[1] }),
      await post('/user_request', { input: '' }, { 'x-request-id': ids[2] }),
    ];
    expect(responses.map((response) => response.status)).toEqual([200, 200, 400]);
    await responses[1].text();
    expect(responses.map((response) => response.headers.get('x-request-id'))).toEqual(ids);
    expect(requestLines(logs).map((line) => fieldsOf(line).request_id)).toEqual(ids);
  });

  it('replaces an X-Request-Id that is not a plain token of at most 128 characters', async () => {
    const { app, logs } = await buildTestApp(upstream);
    const refused = ['', 'two words', 'x'.repeat(129), '<script>', 'a/b', 'ümlaut', '"quoted"'];
    for (const id of refused) {
      const response = await app.request('/health', { headers: { 'x-request-id': id } });
      expect(response.headers.get('x-request-id')).toMatch(uuid);
    }
    const logged = requestLines(logs).map((line) => fieldsOf(line).request_id);
    expect(logged).toHaveLength(refused.length);
    for (const id of logged) expect(id).toMatch(uuid);
    expect(logs.join('\n')).not.toMatch(/two words|<script>|ümlaut|x{129}/);
  });

  it('hands the request id to a session host (the Workers front), so both log the one the client gets', async () => {
    const forwarded: Array<string | null> = [];
    const sessionHost: SessionHost = {
      async forward(_sessionId, request) {
        forwarded.push(request.headers.get('x-request-id'));
        // The first answer names another id; the second, fetched, has headers that cannot change.
        if (forwarded.length === 1) {
          return Response.json({ ok: true }, { headers: { 'x-request-id': 'the-host-must-not-win' } });
        }
        return fetch('data:application/json,{"ok":true}');
      },
    };
    const { logs, post } = await buildTestApp(upstream, {}, { dependencies: { sessionHost } });
    const responses = [await post('/start_session', {}), await post('/start_session', {})];
    expect(responses.map((response) => response.status)).toEqual([200, 200]);
    const ids = responses.map((response) => response.headers.get('x-request-id'));
    for (const id of ids) expect(id).toMatch(uuid);
    expect(forwarded).toEqual(ids);
    expect(requestLines(logs).map((line) => fieldsOf(line).request_id)).toEqual(ids);
  });

  it('lets a listed CORS origin read X-Request-Id', async () => {
    const origin = 'https://app.example';
    const { app } = await buildTestApp(upstream, { corsOrigin: [origin] });
    const response = await app.request('/health', { headers: { origin } });
    expect(response.headers.get('access-control-expose-headers')).toBe('X-Request-Id');
  });

  it('at debug: one line per model call (provider, model, first byte, duration) and per MCP tool call', async () => {
    const clock = createManualClock();
    const countFile = `${await temporaryDirectory()}/count.txt`;
    const lines: string[] = [];
    const logger = createLogger({ level: 'debug', write: (line) => lines.push(line) });
    const models = createModels(
      { ollamaBaseUrl: upstream.url, openaiBaseUrl: upstream.openaiUrl, upstreamTimeout: 120_000 },
      { logger, clock },
    );
    const { post } = await buildTestApp(
      upstream,
      {},
      {
        servers: servers({ fault: faultServer(countFile, { autoApprove: ['count'] }) }),
        dependencies: { logger, models, clock },
      },
    );
    upstream.reply({ toolCalls: [{ name: 'count', arguments: {} }] });
    upstream.reply({ text: ['done'] });
    expect((await post('/user_request', { input: 'count' })).status).toBe(200);
    const debug = (message: string) => lines.filter((line) => line.includes(` DEBUG ${message} `)).map(fieldsOf);
    expect(debug('model call')).toEqual([
      { provider: 'ollama', model: 'qwen2.5-coder:latest', first_byte_ms: 0, duration_ms: 0, outcome: 'ok' },
      { provider: 'ollama', model: 'qwen2.5-coder:latest', first_byte_ms: 0, duration_ms: 0, outcome: 'ok' },
    ]);
    expect(debug('tool call')).toEqual([{ server: 'fault', tool: 'count', duration_ms: 0, outcome: 'ok' }]);
  });
});
