import { join } from 'node:path';
import { context, propagation, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type FaultHttpServer, startFaultHttpServer } from '../helpers/mcp-fault-server.js';
import { faultServer, servers } from '../helpers/mcp-servers.js';
import { buildTestApp, canaryApiKey, closeToolProviders, temporaryDirectory } from '../helpers/test-app.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

const upstream = useFakeUpstream({ each: true });
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer('test');

// What an SDK registers: a context manager and the W3C propagator.
beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
});
afterAll(async () => {
  context.disable();
  propagation.disable();
  await closeToolProviders();
});
beforeEach(() => exporter.reset());

const model = 'qwen2.5-coder:latest';
const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
const callerSpan = '00f067aa0ba902b7';

const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
/** The `traceparent` that names `span` as the parent, in the caller's (sampled) trace. */
const traceparentOf = (span: ReadableSpan) => `00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`;
const contentAttributes = [
  'gen_ai.input.messages',
  'gen_ai.output.messages',
  'gen_ai.system_instructions',
  'gen_ai.tool.call.arguments',
  'gen_ai.tool.call.result',
];

describe('OpenTelemetry spans of one turn with a tool call', () => {
  it('request → turn → chat, approval wait, execute_tool: GenAI attributes, the caller’s traceparent, no content', async () => {
    const countFile = join(await temporaryDirectory('traces-count-'), 'count.txt');
    const t = await buildTestApp(
      upstream,
      { model, apiKey: canaryApiKey },
      { servers: servers({ fault: faultServer(countFile) }), dependencies: { tracer } },
    );
    const secrets = ['a private question', 'label-quux', 'Counted it.', canaryApiKey];
    upstream.reply(
      { toolCalls: [{ name: 'count', arguments: { label: secrets[1] } }], usage: { prompt: 12, completion: 4 } },
      { text: [secrets[2]], usage: { prompt: 30, completion: 5 } },
    );
    const asked = await t.post(
      '/user_request',
      { input: secrets[0] },
      { traceparent: `00-${callerTrace}-${callerSpan}-01` },
    );
    const { request_id } = (await asked.json()) as any;
    const approved = await t.post('/approve', { request_id, approve: true });
    expect(approved.status).toBe(200);
    expect(((await approved.json()) as any).message).toBe(secrets[2]);

    const spans = exporter.getFinishedSpans();
    const named = (name: string) => spans.filter((span) => span.name === name);
    const [askRequest] = named('POST /user_request');
    const [approveRequest] = named('POST /approve');
    const [firstRun, secondRun] = named('turn');
    const [firstChat, secondChat] = named(`chat ${model}`);
    const [wait] = named('approval wait count');
    const [tool] = named('execute_tool count');

    // The caller's trace goes on: the request is its child.
    expect(askRequest.spanContext().traceId).toBe(callerTrace);
    expect(parentOf(askRequest)).toBe(callerSpan);
    expect(askRequest.kind).toBe(SpanKind.SERVER);
    expect(askRequest.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/user_request',
      'http.response.status_code': 200,
    });
    expect(parentOf(firstRun)).toBe(askRequest.spanContext().spanId);
    expect(firstRun.attributes).toMatchObject({
      'gen_ai.provider.name': 'ollama',
      'gen_ai.request.model': model,
      'llm_chat.turn.outcome': 'awaiting_approval',
    });
    expect(parentOf(firstChat)).toBe(firstRun.spanContext().spanId);
    expect(firstChat.kind).toBe(SpanKind.CLIENT);
    expect(firstChat.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'ollama',
      'gen_ai.request.model': model,
      'gen_ai.usage.input_tokens': 12,
      'gen_ai.usage.output_tokens': 4,
    });
    expect(firstChat.attributes['gen_ai.response.finish_reasons']).toHaveLength(1);
    expect(parentOf(wait)).toBe(firstRun.spanContext().spanId);
    expect(wait.attributes).toMatchObject({
      'gen_ai.tool.name': 'count',
      'llm_chat.mcp.server': 'fault',
      'llm_chat.approval.kind': 'user',
      'llm_chat.approval.decision': 'approved',
    });

    // The continuation: its own request, its run, the tool, the model again.
    expect(parentOf(secondRun)).toBe(approveRequest.spanContext().spanId);
    expect(secondRun.attributes['llm_chat.turn.outcome']).toBe('finished');
    expect(parentOf(tool)).toBe(secondRun.spanContext().spanId);
    expect(tool.attributes).toMatchObject({
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'count',
      'llm_chat.mcp.server': 'fault',
    });
    expect(tool.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(parentOf(secondChat)).toBe(secondRun.spanContext().spanId);
    expect(secondChat.attributes).toMatchObject({ 'gen_ai.usage.input_tokens': 30, 'gen_ai.usage.output_tokens': 5 });
    expect(secondChat.attributes['gen_ai.response.finish_reasons']).toEqual(['stop']);

    // Nothing a user or tool wrote is recorded.
    const recorded = JSON.stringify(spans.map((span) => [span.name, span.attributes, span.events]));
    for (const secret of secrets) expect(recorded).not.toContain(secret);
    for (const span of spans)
      expect(Object.keys(span.attributes).filter((key) => contentAttributes.includes(key))).toEqual([]);
  });

  it('a failing model call is an error span with its code; no tracer, no spans', async () => {
    const t = await buildTestApp(upstream, { model }, { dependencies: { tracer } });
    upstream.reply({ error: { status: 500 } });
    expect((await t.post('/user_request', { input: 'hi' })).status).toBe(502);
    const [chat] = exporter.getFinishedSpans().filter((span) => span.name === `chat ${model}`);
    expect(chat.attributes['error.type']).toBe('upstream_error');
    expect(chat.status.code).toBe(SpanStatusCode.ERROR);
    const [run] = exporter.getFinishedSpans().filter((span) => span.name === 'turn');
    expect(run.attributes).toMatchObject({ 'llm_chat.turn.outcome': 'failed', 'error.type': 'upstream_error' });

    exporter.reset();
    const untraced = await buildTestApp(upstream, { model });
    upstream.reply({ text: ['ok'] });
    const asked = await untraced.post(
      '/user_request',
      { input: 'hi' },
      { traceparent: `00-${callerTrace}-${callerSpan}-01` },
    );
    expect(asked.status).toBe(200);
    expect(exporter.getFinishedSpans()).toHaveLength(0);
    expect(upstream.chatRequests().at(-1)?.headers.traceparent).toBeUndefined();
  });
});

describe('the trace goes on: to the LLM and to HTTP MCP servers', () => {
  let fault: FaultHttpServer;
  beforeEach(async () => {
    fault = await startFaultHttpServer();
  });
  afterEach(() => fault.close());

  const traced = (overrides: Parameters<typeof buildTestApp>[1]) =>
    buildTestApp(
      upstream,
      { model, autoApproveReadOnly: true, ...overrides },
      { servers: servers({ fault: { url: fault.url } }), dependencies: { tracer } },
    );

  it.each(['ollama', 'openai'] as const)(
    '%s: each upstream request carries its model call span as traceparent; the MCP request its tool call span',
    async (provider) => {
      const t = await traced({ provider });
      upstream.reply({ toolCalls: [{ name: 'read_only_echo', arguments: { text: 'hi' } }] }, { text: ['Done.'] });
      const asked = await t.post(
        '/user_request',
        { input: 'echo' },
        { traceparent: `00-${callerTrace}-${callerSpan}-01` },
      );
      expect(asked.status).toBe(200);

      const spans = exporter.getFinishedSpans();
      const chats = spans.filter((span) => span.name === `chat ${model}`);
      const [tool] = spans.filter((span) => span.name === 'execute_tool read_only_echo');
      expect(chats).toHaveLength(2);
      expect(chats[0].spanContext().traceId).toBe(callerTrace);
      expect(upstream.chatRequests().map((request) => request.headers.traceparent)).toEqual(chats.map(traceparentOf));

      const calls = fault.received.filter((request) => request.method === 'tools/call');
      expect(calls).toHaveLength(1);
      expect(calls[0].headers.traceparent).toBe(traceparentOf(tool));
      expect(calls[0].params._meta).toMatchObject({ traceparent: traceparentOf(tool) });
      // What is not a tool call (initialize, tools/list) goes out as it did.
      const others = fault.received.filter((request) => request.method !== 'tools/call');
      expect(others.length).toBeGreaterThan(0);
      for (const other of others) expect(other.headers.traceparent).toBeUndefined();
    },
  );

  it('--trace-content: model calls record their messages and answer (GenAI JSON), tool calls their arguments and result', async () => {
    const t = await traced({ traceContent: true, systemPrompt: 'Be brief.' });
    upstream.reply(
      { toolCalls: [{ id: 'call_1', name: 'read_only_echo', arguments: { text: 'echo me' } }] },
      { text: ['Echoed', ' it.'] },
    );
    expect((await t.post('/user_request', { input: 'Please echo' })).status).toBe(200);

    const spans = exporter.getFinishedSpans();
    const [first, second] = spans.filter((span) => span.name === `chat ${model}`);
    const [tool] = spans.filter((span) => span.name === 'execute_tool read_only_echo');
    const json = (span: ReadableSpan, key: string) => JSON.parse(String(span.attributes[key]));
    const system = { role: 'system', parts: [{ type: 'text', content: 'Be brief.' }] };
    const user = { role: 'user', parts: [{ type: 'text', content: 'Please echo' }] };
    const call = { type: 'tool_call', id: 'call_1', name: 'read_only_echo', arguments: { text: 'echo me' } };
    expect(json(first, 'gen_ai.input.messages')).toEqual([system, user]);
    expect(json(first, 'gen_ai.output.messages')).toEqual([
      {
        role: 'assistant',
        parts: [call],
        finish_reason: first.attributes['gen_ai.response.finish_reasons']?.toString(),
      },
    ]);
    expect(json(second, 'gen_ai.input.messages')).toEqual([
      system,
      user,
      { role: 'assistant', parts: [call] },
      { role: 'tool', parts: [{ type: 'tool_call_response', id: 'call_1', response: 'echo me' }] },
    ]);
    expect(json(second, 'gen_ai.output.messages')).toEqual([
      { role: 'assistant', parts: [{ type: 'text', content: 'Echoed it.' }], finish_reason: 'stop' },
    ]);
    expect(json(tool, 'gen_ai.tool.call.arguments')).toEqual({ text: 'echo me' });
    expect(tool.attributes['gen_ai.tool.call.result']).toBe('echo me');
  });
});
