import { Ollama } from 'ollama/browser';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

// The fake must be parsed by the official clients exactly as the real services are.
const upstream = useFakeUpstream();

describe('fake upstream, read by the official openai client', () => {
  const client = () => new OpenAI({ baseURL: upstream.openaiUrl, apiKey: 'sk-test', maxRetries: 0 });

  it('streams text and split tool-call arguments that the client assembles', async () => {
    upstream.reply({ text: ['Hel', 'lo'], toolCalls: [{ name: 'read_file', arguments: { path: 'README.md' } }] });
    const stream = client().chat.completions.stream({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      stream_options: { include_usage: true },
    });
    const completion = await stream.finalChatCompletion();
    expect(completion.choices[0].message.content).toBe('Hello');
    expect(completion.choices[0].message.tool_calls?.[0]).toMatchObject({
      type: 'function',
      function: { name: 'read_file', arguments: '{"path":"README.md"}' },
    });
    expect(completion.choices[0].finish_reason).toBe('tool_calls');
    expect(completion.usage).toMatchObject({ prompt_tokens: 26, completion_tokens: 2 });
  });

  it('answers without streaming, and lists models', async () => {
    upstream.reply({ text: ['Hi ', 'there'] });
    const completion = await client().chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(completion.choices[0].message.content).toBe('Hi there');
    const models = await client().models.list();
    expect(models.data[0].id).toBe('gpt-4o-mini');
  });

  it('sends errors the client maps to its classes with the body message', async () => {
    upstream.reply({ error: { status: 429 } });
    const error = await client()
      .chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
      .catch((caught) => caught);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect(error.code).toBe('rate_limit_exceeded');
  });

  it('sends a mid-stream error the client throws as APIError without status', async () => {
    upstream.reply({ midStreamError: 'The server had an error', text: ['a'] });
    const stream = await client().chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    const error = await (async () => {
      for await (const _ of stream) {
      }
    })().catch((caught) => caught);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(error.status).toBeUndefined();
  });
});

describe('fake upstream, read by the official ollama client', () => {
  const client = () => new Ollama({ host: upstream.url });

  it('streams NDJSON with whole tool calls and a final done line', async () => {
    upstream.reply({
      text: ['Hel', 'lo'],
      toolCalls: [{ id: 'call_k3xq9s2a', name: 'get_weather', arguments: { city: 'Tokyo' } }],
      usage: { prompt: 9, completion: 3 },
    });
    const parts = [];
    for await (const part of await client().chat({
      model: 'llama3.2',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    }))
      parts.push(part);
    expect(parts.map((part) => part.message.content).join('')).toBe('Hello');
    expect(parts.find((part) => part.message.tool_calls)?.message.tool_calls?.[0].function).toMatchObject({
      name: 'get_weather',
      arguments: { city: 'Tokyo' },
    });
    expect(parts.at(-1)).toMatchObject({ done: true, done_reason: 'stop', prompt_eval_count: 9, eval_count: 3 });
  });

  it('answers without streaming, and lists models', async () => {
    upstream.reply({ text: ['Hi'] });
    const response = await client().chat({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }] });
    expect(response.message.content).toBe('Hi');
    expect((await client().list()).models[0].name).toBe('qwen2.5-coder:latest');
  });

  it('sends errors as {"error": text} the client raises as ResponseError', async () => {
    upstream.reply({ error: { status: 404 } });
    const error = await client()
      .chat({ model: 'nope', messages: [{ role: 'user', content: 'hi' }] })
      .catch((caught) => caught);
    expect(error.name).toBe('ResponseError');
    expect(error.status_code).toBe(404);
    expect(error.message).toBe("model 'nope' not found");
  });

  it('sends a mid-stream error line the client throws', async () => {
    upstream.reply({ midStreamError: 'runner died', text: ['a'] });
    const error = await (async () => {
      for await (const _ of await client().chat({
        model: 'm',
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
      })) {
      }
    })().catch((caught) => caught);
    expect(error.message).toBe('runner died');
  });
});
