import { beforeEach, describe, expect, it } from 'vitest';
import { createHold } from '../helpers/fake-upstream.js';
import { buildTestApp, canaryApiKey } from '../helpers/test-app.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

const upstream = useFakeUpstream();
beforeEach(() => {
  upstream.requests.length = 0;
});

describe('POST /user_request in JSON mode', () => {
  it('answers with the original response shape and sends Ollama the model, messages and options', async () => {
    const { post } = await buildTestApp(upstream, { temperature: 0.3, contextWindowSize: 4096 });
    upstream.reply({ text: ['Hel', 'lo!'], usage: { prompt: 12, completion: 2 } });
    const response = await post('/user_request', { input: 'Say hello' });
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body).toEqual({
      request_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      requires_approval: false,
      tool: null,
      message: 'Hello!',
      model: 'qwen2.5-coder:latest',
      role: 'assistant',
      session_id: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      tool_calls: [],
      usage: { prompt_tokens: 12, completion_tokens: 2 },
    });
    const [sent] = upstream.chatRequests();
    expect(sent.path).toBe('/api/chat');
    expect(sent.body).toMatchObject({
      model: 'qwen2.5-coder:latest',
      stream: true,
      options: { temperature: 0.3, num_ctx: 4096 },
    });
    expect(sent.body.messages[0].role).toBe('system');
    expect(sent.body.messages.at(-1)).toEqual({ role: 'user', content: 'Say hello' });
    // The API key belongs to the OpenAI-compatible API; Ollama never gets it.
    expect(sent.headers.authorization).toBeUndefined();
  });

  it('sends OpenAI-compatible APIs the model, temperature, usage request and bearer key', async () => {
    const { post } = await buildTestApp(upstream, { provider: 'openai', model: 'gpt-4o-mini', temperature: 1.1 });
    upstream.reply({ text: ['Hi'] });
    const body = await (await post('/user_request', { input: 'hello' })).json();
    expect(body.message).toBe('Hi');
    expect(body.model).toBe('gpt-4o-mini');
    const [sent] = upstream.chatRequests();
    expect(sent.path).toBe('/v1/chat/completions');
    expect(sent.headers.authorization).toBe(`Bearer ${canaryApiKey}`);
    expect(sent.body).toMatchObject({
      model: 'gpt-4o-mini',
      temperature: 1.1,
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(sent.body).not.toHaveProperty('num_ctx');
  });

  it('sends no Authorization header to an OpenAI-compatible server when no key is set', async () => {
    const { post } = await buildTestApp(upstream, { provider: 'openai', apiKey: undefined });
    expect((await post('/user_request', { input: 'hello' })).status).toBe(200);
    expect(upstream.chatRequests()[0].headers.authorization).toBeUndefined();
  });

  it('keeps the conversation: the second request carries the first exchange', async () => {
    const { post } = await buildTestApp(upstream);
    upstream.reply({ text: ['Paris'] }, { text: ['Lyon'] });
    await post('/user_request', { input: 'Capital of France?' });
    await post('/user_request', { input: 'Another city?' });
    const second = upstream.chatRequests()[1].body.messages;
    expect(second.slice(1)).toEqual([
      { role: 'user', content: 'Capital of France?' },
      { role: 'assistant', content: 'Paris' },
      { role: 'user', content: 'Another city?' },
    ]);
  });

  it('uses the session named in the body, and its own settings', async () => {
    const { post } = await buildTestApp(upstream);
    const session = await (await post('/start_session', { model: 'llama3.2', temperature: 0 })).json();
    await post('/start_session', {});
    const body = await (await post('/user_request', { input: 'hi', session_id: session.session_id })).json();
    expect(body.session_id).toBe(session.session_id);
    expect(upstream.chatRequests()[0].body).toMatchObject({ model: 'llama3.2', options: { temperature: 0 } });
  });

  it('refuses a second turn while one runs: 409 turn_in_progress', async () => {
    const { post } = await buildTestApp(upstream);
    const midAnswer = createHold(1);
    upstream.reply({ text: ['a', 'b', 'c'], holds: [midAnswer] });
    const first = post('/user_request', { input: 'slow' });
    await midAnswer.reached;
    const second = await post('/user_request', { input: 'again' });
    expect(second.status).toBe(409);
    expect((await second.json()).error.code).toBe('turn_in_progress');
    midAnswer.release();
    expect((await first).status).toBe(200);
    expect(await (await first).json()).toMatchObject({ message: 'abc' });
    expect(upstream.chatRequests()).toHaveLength(1);
  });
});
