import { describe, expect, it } from 'vitest';
import { closedPort } from '../helpers/closed-port.js';
import { createHold } from '../helpers/fake-upstream.js';
import { buildTestApp, canaryApiKey } from '../helpers/test-app.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

const upstream = useFakeUpstream();

// Each adapter over the Node entry's HTTP client (undici's `request`) and over the runtime's
// `fetch` (Bun, Workers): the same failure is the same error on both.
const cases = (['ollama', 'openai'] as const).flatMap((provider) =>
  (['undici', 'fetch'] as const).map((http) => ({ provider, http })),
);

describe.each(cases)('upstream failures through the $provider adapter over $http', ({ provider, http }) => {
  const app = () => buildTestApp(upstream, { provider }, { http });

  it.each([401, 404, 429, 500])(
    'an upstream %i becomes 502 upstream_error with provider, status and message',
    async (status) => {
      const { post, logs } = await app();
      upstream.reply({ error: { status } });
      const response = await post('/user_request', { input: 'hi' });
      expect(response.status).toBe(502);
      const text = await response.text();
      const body = JSON.parse(text);
      expect(body.error.code).toBe('upstream_error');
      expect(body.error.details).toMatchObject({ provider, status });
      expect(typeof body.error.details.message).toBe('string');
      expect(body.error.details.message.length).toBeGreaterThan(0);
      expect(text).not.toContain('    at ');
      expect(text + logs.join('\n')).not.toContain(canaryApiKey);
    },
  );

  it('an error inside the stream, after tokens, becomes 502 and the partial text is kept', async () => {
    const built = await app();
    upstream.reply({ midStreamError: 'Provider disconnected unexpectedly', text: ['Part', 'ial'] });
    const response = await built.post('/user_request', { input: 'hi' });
    expect(response.status).toBe(502);
    const body = await response.json();
    expect(body.error).toMatchObject({ code: 'upstream_error', details: { provider, status: null } });
    expect(body.error.details.message).toContain('Provider disconnected unexpectedly');
    const state = await (await built.app.request('/session_state')).json();
    expect(state.messages.at(-1)).toEqual({ role: 'assistant', content: 'Partial' });
  });

  it('a stream that ends before the model finished is a 502, not a silent short answer', async () => {
    const { post } = await app();
    upstream.reply({ truncate: true, text: ['Hal'] });
    const response = await post('/user_request', { input: 'hi' });
    expect(response.status).toBe(502);
    expect((await response.json()).error.code).toBe('upstream_error');
  });

  it('an unreachable upstream becomes 503 upstream_unavailable, without the URL credentials', async () => {
    const port = await closedPort();
    const { post } = await buildTestApp(
      upstream,
      {
        provider,
        ollamaBaseUrl: `http://user:url-secret@127.0.0.1:${port}/?key=query-secret`,
        openaiBaseUrl: `http://user:url-secret@127.0.0.1:${port}/v1?key=query-secret`,
      },
      { http },
    );
    const response = await post('/user_request', { input: 'hi' });
    expect(response.status).toBe(503);
    const text = await response.text();
    expect(JSON.parse(text).error).toMatchObject({ code: 'upstream_unavailable', details: { provider } });
    expect(text).toContain(`127.0.0.1:${port}`);
    expect(text).not.toContain('url-secret');
    expect(text).not.toContain('query-secret');
  });

  it('an unreachable upstream at a plain address becomes 503 upstream_unavailable', async () => {
    const port = await closedPort();
    const address = `http://127.0.0.1:${port}`;
    const { post } = await buildTestApp(
      upstream,
      { provider, ollamaBaseUrl: address, openaiBaseUrl: `${address}/v1` },
      { http },
    );
    const response = await post('/user_request', { input: 'hi' });
    expect(response.status).toBe(503);
    expect((await response.json()).error).toMatchObject({ code: 'upstream_unavailable', details: { provider } });
  });

  it('an upstream that never answers becomes 504 upstream_timeout after --upstream-timeout', async () => {
    const { post } = await buildTestApp(upstream, { provider, upstreamTimeout: 300 }, { http });
    upstream.reply({ hang: true });
    const response = await post('/user_request', { input: 'hi' });
    expect(response.status).toBe(504);
    expect((await response.json()).error).toMatchObject({ code: 'upstream_timeout', details: { provider } });
    const sent = upstream.chatRequests().at(-1)!;
    await sent.closed;
  });

  it('an upstream that stalls mid-answer also times out', async () => {
    const { post } = await buildTestApp(upstream, { provider, upstreamTimeout: 200 }, { http });
    const stall = createHold(1);
    upstream.reply({ text: ['a', 'b'], holds: [stall] });
    const response = await post('/user_request', { input: 'hi' });
    expect(response.status).toBe(504);
    await upstream.chatRequests().at(-1)?.closed;
    stall.release();
  });
});

describe('the failed turn keeps the history valid', () => {
  it('keeps the user message and partial text, so nothing the user typed is lost', async () => {
    const { post, app } = await buildTestApp(upstream);
    upstream.reply({ midStreamError: 'boom', text: ['Part'] });
    await post('/user_request', { input: 'remember me' });
    const state = await (await app.request('/session_state')).json();
    expect(state.messages.slice(1)).toEqual([
      { role: 'user', content: 'remember me' },
      { role: 'assistant', content: 'Part' },
    ]);
  });
});
