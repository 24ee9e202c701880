import { describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/test-app.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

const upstream = useFakeUpstream();

const errorOf = async (response: Response) => (await response.json()).error;

describe('request bodies', () => {
  it.each([
    ['missing input', {}],
    ['empty input', { input: '' }],
    ['input of the wrong type', { input: 42 }],
    ['stream of the wrong type', { input: 'hi', stream: 'yes' }],
    ['a body that is an array', ['hi']],
  ])('%s: 400 invalid_request with the issues in details', async (_, body) => {
    const { post } = await buildTestApp(upstream);
    const response = await post('/user_request', body);
    expect(response.status).toBe(400);
    const error = await errorOf(response);
    expect(error.code).toBe('invalid_request');
    expect(Array.isArray(error.details)).toBe(true);
    expect(error.details[0]).toHaveProperty('message');
  });

  it('input longer than --max-input-chars: 400 naming input', async () => {
    const { post } = await buildTestApp(upstream, { maxInputChars: 10 });
    const response = await post('/user_request', { input: 'x'.repeat(11) });
    expect(response.status).toBe(400);
    expect((await errorOf(response)).details[0].path).toBe('input');
  });

  it('malformed JSON: 400 invalid_request', async () => {
    const { app } = await buildTestApp(upstream);
    const response = await app.request('/user_request', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"input": "hi"',
    });
    expect(response.status).toBe(400);
    expect((await errorOf(response)).code).toBe('invalid_request');
  });

  const emptyStream = () => new ReadableStream({ start: (controller) => controller.close() });
  // What a client sends with `curl -X POST`: a POST with no body, with or without these headers.
  // Node's adapter hands the app an empty body stream even then, hence the last two.
  it.each<[string, RequestInit]>([
    ['no headers at all', {}],
    ['Content-Type: application/json', { headers: { 'content-type': 'application/json' } }],
    ['Content-Length: 0', { headers: { 'content-length': '0' } }],
    ['an empty stream and no Content-Length', { body: emptyStream(), duplex: 'half' } as RequestInit],
    [
      'an empty stream, Content-Type: application/json',
      { headers: { 'content-type': 'application/json' }, body: emptyStream(), duplex: 'half' } as RequestInit,
    ],
  ])('a POST with no body (%s) counts as {} on /start_session and /stop', async (_, init) => {
    const { app, post } = await buildTestApp(upstream);
    const fresh = () => ({ ...init, method: 'POST', body: init.body ? emptyStream() : undefined });
    expect((await app.request('/start_session', fresh())).status).toBe(201);
    upstream.reply({ hang: true });
    const before = upstream.chatRequests().length;
    const turn = post('/user_request', { input: 'hi' });
    await upstream.untilChatRequests(before + 1);
    const stop = await app.request('/stop', fresh());
    expect(stop.status).toBe(200);
    expect(await stop.json()).toEqual({ stopped: true });
    expect(await (await turn).json()).toMatchObject({ stopped: true });
  });

  it('a POST with no body to a route with required fields: 400 naming them, not "not valid JSON"', async () => {
    const { app } = await buildTestApp(upstream);
    const response = await app.request('/user_request', {
      method: 'POST',
      body: emptyStream(),
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(400);
    expect((await errorOf(response)).details[0].path).toBe('input');
  });

  it('an empty body of another type is 415 too, not taken as {}', async () => {
    const { app } = await buildTestApp(upstream);
    const response = await app.request('/start_session', {
      method: 'POST',
      headers: { 'content-type': 'text/plain', 'content-length': '0' },
    });
    expect(response.status).toBe(415);
  });

  it.each(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x'])(
    'a %s body: 415 unsupported_media_type, and nothing reaches the model',
    async (type) => {
      const { app } = await buildTestApp(upstream);
      const before = upstream.chatRequests().length;
      const response = await app.request('/user_request', {
        method: 'POST',
        headers: { 'content-type': type },
        body: '{"input":"hi"}',
      });
      expect(response.status).toBe(415);
      expect((await errorOf(response)).code).toBe('unsupported_media_type');
      expect(upstream.chatRequests()).toHaveLength(before);
    },
  );

  it('a body over --max-body-bytes with Content-Length: 413 payload_too_large', async () => {
    const { post } = await buildTestApp(upstream, { maxBodyBytes: 1000 });
    const body = JSON.stringify({ input: 'x'.repeat(2000) });
    const response = await post('/user_request', JSON.parse(body), { 'content-length': String(body.length) });
    expect(response.status).toBe(413);
    expect((await errorOf(response)).code).toBe('payload_too_large');
  });

  it('a body over --max-body-bytes streamed without Content-Length: 413 as well', async () => {
    const { app } = await buildTestApp(upstream, { maxBodyBytes: 1000 });
    const chunk = new TextEncoder().encode(`{"input":"${'x'.repeat(600)}`);
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(chunk);
        controller.enqueue(chunk);
        controller.close();
      },
    });
    const request = new Request('http://localhost/user_request', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(request.headers.get('content-length')).toBeNull();
    const response = await app.request(request);
    expect(response.status).toBe(413);
  });
});

describe('routes', () => {
  it('an unknown route: 404 not_found in the error body', async () => {
    const { app } = await buildTestApp(upstream);
    const response = await app.request('/nope');
    expect(response.status).toBe(404);
    expect(await errorOf(response)).toMatchObject({ code: 'not_found' });
  });

  it('a known route with the wrong method: 405 with Allow', async () => {
    const { app } = await buildTestApp(upstream);
    const response = await app.request('/start_session');
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
    expect((await errorOf(response)).code).toBe('method_not_allowed');
  });

  it('GET /health reports status, version, provider, model and MCP servers', async () => {
    const { app } = await buildTestApp(upstream, { provider: 'openai', model: 'gpt-4o-mini' });
    const response = await app.request('/health');
    expect(await response.json()).toEqual({
      status: 'ok',
      version: '0.0.0-test',
      provider: 'openai',
      model: 'gpt-4o-mini',
      upstream: 'unknown',
      mcp: {},
    });
  });

  it('GET /openapi.json documents every route with the request schemas that validate them', async () => {
    const { app } = await buildTestApp(upstream);
    const document = await (await app.request('/openapi.json')).json();
    expect(document.openapi).toBe('3.1.0');
    expect(Object.keys(document.paths).sort()).toEqual([
      '/approvals',
      '/approvals/events',
      '/approve',
      '/audit',
      '/events',
      '/health',
      '/session_state',
      '/start_session',
      '/stop',
      '/user_request',
    ]);
    const input = document.paths['/user_request'].post.requestBody.content['application/json'].schema.properties.input;
    expect(input).toMatchObject({ type: 'string', minLength: 1, maxLength: 100000 });
    expect(document.paths['/user_request'].post.responses).toHaveProperty('502');
    const events = document.paths['/user_request'].post.responses['200'].content['text/event-stream'].schema;
    const names =
      JSON.stringify(events)
        .match(/"const":"[a-z_]+"|"enum":\["[a-z_]+"\]/g)
        ?.join(' ') ?? '';
    for (const name of [
      'session',
      'token',
      'approval_required',
      'tool_call',
      'tool_progress',
      'tool_result',
      'done',
      'error',
    ]) {
      expect(names).toContain(`"${name}"`);
    }
  });

  // What the page does is tested by running it in Chromium: test/e2e/chat-page.test.ts.
  it('GET / serves the chat page as HTML', async () => {
    const { app } = await buildTestApp(upstream);
    const response = await app.request('/');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    expect(await response.text()).toMatch(/^<!doctype html>/i);
  });

  it('GET /docs serves docs rendered from /openapi.json', async () => {
    const { app } = await buildTestApp(upstream);
    const response = await app.request('/docs');
    expect(response.headers.get('content-type')).toContain('text/html');
    const html = await response.text();
    expect(html).toContain("fetch('/openapi.json'");
  });
});

describe('security', () => {
  it('while bound to loopback, rejects a foreign Host with 403 forbidden_host', async () => {
    const { app } = await buildTestApp(upstream);
    const response = await app.request('/health', { headers: { host: 'evil.example.com' } });
    expect(response.status).toBe(403);
    expect((await errorOf(response)).code).toBe('forbidden_host');
    for (const host of ['localhost:8000', '127.0.0.1:8000', '[::1]:8000']) {
      expect((await app.request('/health', { headers: { host } })).status).toBe(200);
    }
  });

  it('accepts a Host listed in --allowed-hosts', async () => {
    const { app } = await buildTestApp(upstream, { allowedHosts: ['chat.internal'] });
    expect((await app.request('/health', { headers: { host: 'chat.internal:8000' } })).status).toBe(200);
  });

  it('rejects a foreign Origin with 403 forbidden_origin and accepts the server own origin', async () => {
    const { post } = await buildTestApp(upstream);
    const hostile = await post('/start_session', {}, { origin: 'https://evil.example.com' });
    expect(hostile.status).toBe(403);
    expect((await errorOf(hostile)).code).toBe('forbidden_origin');
    expect((await post('/start_session', {}, { origin: 'http://localhost' })).status).toBe(201);
  });

  it('sends CORS headers only to origins in --cors-origin, and answers their preflight', async () => {
    const { app, post } = await buildTestApp(upstream, { corsOrigin: ['http://localhost:5173'] });
    const preflight = await app.request('/user_request', {
      method: 'OPTIONS',
      headers: { origin: 'http://localhost:5173', 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    const allowed = await post('/start_session', {}, { origin: 'http://localhost:5173' });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    const same = await post('/start_session', {}, { origin: 'http://localhost' });
    expect(same.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('a cross-site GET that would start work is refused without an allowed Origin', async () => {
    const { app } = await buildTestApp(upstream);
    const response = await app.request('/user_request?input=hi', { headers: { 'sec-fetch-site': 'cross-site' } });
    expect(response.status).toBe(403);
  });

  describe('with --auth-token', () => {
    const token = 'secret-token-1234';

    it('requires the bearer token on every route but GET /health', async () => {
      const { app, post } = await buildTestApp(upstream, { authToken: token });
      expect((await app.request('/health')).status).toBe(200);
      for (const response of [
        await app.request('/session_state'),
        await app.request('/openapi.json'),
        await post('/start_session', {}),
        await post('/start_session', {}, { authorization: 'Bearer wrong-token' }),
        await post('/start_session', {}, { authorization: token }),
      ]) {
        expect(response.status).toBe(401);
        expect(response.headers.get('www-authenticate')).toBe('Bearer');
        expect((await errorOf(response)).code).toBe('unauthorized');
      }
      expect((await post('/start_session', {}, { authorization: `Bearer ${token}` })).status).toBe(201);
    });

    it('accepts access_token in the query only on the streaming GETs (for EventSource)', async () => {
      const { app } = await buildTestApp(upstream, { authToken: token });
      const stream = await app.request(`/user_request?input=hi&access_token=${token}`);
      expect(stream.status).not.toBe(401);
      expect((await app.request(`/user_request?input=hi&access_token=wrong`)).status).toBe(401);
      expect((await app.request(`/session_state?access_token=${token}`)).status).toBe(401);
      const post = await app.request(`/start_session?access_token=${token}`, { method: 'POST' });
      expect(post.status).toBe(401);
    });
  });
});
