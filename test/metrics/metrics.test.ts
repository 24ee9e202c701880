import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AppConfig } from '../../src/app.js';
import type { TurnEvent } from '../../src/chat/turn-events.js';
import { configSchema } from '../../src/config/schema.js';
import { createModels } from '../../src/llm/create-models.js';
import { createLogger } from '../../src/logger.js';
import { deferredMetrics } from '../../src/metrics/deferred-metrics.js';
import { meteredParts } from '../../src/metrics/metered-parts.js';
import type { Metrics } from '../../src/metrics/metrics.js';
import { createPrometheusMetrics } from '../../src/node/prometheus-metrics.js';
import type { SessionRecord } from '../../src/sessions/session-record.js';
import { observedTools } from '../../src/tools/observed-tools.js';
import { noTools, type ToolProvider } from '../../src/tools/tool-provider.js';
import { closedPort } from '../helpers/closed-port.js';
import { createHold, type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { createManualClock } from '../helpers/manual-clock.js';
import { faultServer, servers } from '../helpers/mcp-servers.js';
import { parseSamples, sampleValue } from '../helpers/prometheus-text.js';
import { buildTestApp, canaryApiKey, closeToolProviders, temporaryDirectory } from '../helpers/test-app.js';

let upstream: FakeUpstream;
beforeEach(async () => {
  upstream = await startFakeUpstream();
});
afterEach(async () => {
  await upstream.close();
});
afterAll(async () => {
  await closeToolProviders();
});

const model = 'qwen2.5-coder:latest';
const turnLabels = { provider: 'ollama' as const, model };
const usage = { prompt: 10, completion: 2 };

/** An app with the fault MCP server (its `fail` tool auto-approved), Prometheus metrics and a manual clock. */
async function setup(
  config: Partial<AppConfig> = {},
  metrics: Metrics = createPrometheusMetrics({ processMetrics: false }),
) {
  const clock = createManualClock();
  const countFile = join(await temporaryDirectory('metrics-count-'), 'count.txt');
  const built = await buildTestApp(
    upstream,
    { model, approvalTtl: 60_000, autoApproveReadOnly: true, authToken: 'metrics-token', ...config },
    {
      servers: servers({ fault: faultServer(countFile, { autoApprove: ['fail'] }) }),
      dependencies: { clock, metrics },
    },
  );
  const auth = { authorization: 'Bearer metrics-token' };
  const post = async (path: string, body: unknown, status = 200) => {
    const response = await built.post(path, body, auth);
    expect(response.status, await response.clone().text()).toBe(status);
    return response.json() as Promise<any>;
  };
  const scrape = async () => {
    const response = await built.app.request('/metrics', { headers: auth });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    return { text, samples: parseSamples(text) };
  };
  return { ...built, clock, post, scrape, auth };
}

describe('GET /metrics after a scripted conversation', () => {
  it('counts turns, model calls, tokens, approvals by kind, tool calls and requests, exactly', async () => {
    const t = await setup();
    const secrets = ['my private question', 'label-xyzzy', 'content-plugh', 'echo-frobozz', canaryApiKey];

    // 1. An answer.
    upstream.reply({ text: ['Hello'], usage: { prompt: 11, completion: 3 } });
    await t.post('/user_request', { input: `${secrets[0]} 1` });

    // 2. An approval, remembered for the session, after 5 s.
    upstream.reply(
      { toolCalls: [{ name: 'count', arguments: { label: secrets[1] } }], usage },
      { text: ['Counted.'], usage },
    );
    const asked = await t.post('/user_request', { input: `${secrets[0]} 2` });
    expect(asked.requires_approval).toBe(true);
    let scraped = await t.scrape();
    expect(sampleValue(scraped.samples, 'llm_chat_pending_approvals')).toBe(1);
    await t.clock.advance(5000);
    await t.post('/approve', { request_id: asked.request_id, approve: true, remember: 'session' });
    scraped = await t.scrape();
    expect(sampleValue(scraped.samples, 'llm_chat_pending_approvals')).toBe(0);

    // 3. The same tool again: the session's grant approves it.
    upstream.reply(
      { toolCalls: [{ name: 'count', arguments: { label: secrets[1] } }], usage },
      { text: ['Again.'], usage },
    );
    expect(await t.post('/user_request', { input: `${secrets[0]} 3` })).toMatchObject({ requires_approval: false });

    // 4. A denial after 2 s.
    upstream.reply(
      { toolCalls: [{ name: 'write_note', arguments: { path: 'n.txt', content: secrets[2] } }], usage },
      { text: ['Not written.'], usage },
    );
    const write = await t.post('/user_request', { input: `${secrets[0]} 4` });
    await t.clock.advance(2000);
    await t.post('/approve', { request_id: write.request_id, approve: false, reason: 'no' });

    // 5. An MCP failure (approved by the servers file) and a read-only tool (approved by its hint).
    upstream.reply(
      {
        toolCalls: [
          { name: 'fail', arguments: {} },
          { name: 'read_only_echo', arguments: { text: secrets[3] } },
        ],
        usage,
      },
      { text: ['One failed.'], usage },
    );
    expect(await t.post('/user_request', { input: `${secrets[0]} 5` })).toMatchObject({ requires_approval: false });

    // 6. An approval nobody gives: expired at the next scrape.
    upstream.reply({ toolCalls: [{ name: 'write_note', arguments: { path: 'm.txt', content: secrets[2] } }], usage });
    await t.post('/user_request', { input: `${secrets[0]} 6` });
    await t.clock.advance(60_001);

    scraped = await t.scrape();
    expect(sampleValue(scraped.samples, 'llm_chat_pending_approvals')).toBe(0);
    expect(sampleValue(scraped.samples, 'llm_chat_tool_decisions_total', { kind: 'expiry' })).toBe(1);
    // 7. The LLM fails.
    upstream.reply({ error: { status: 500 } });
    await t.post('/user_request', { input: `${secrets[0]} 7` }, 502);

    const { samples, text } = await t.scrape();
    const expected: Array<[string, Record<string, string>, number]> = [
      ['llm_chat_turns_started_total', turnLabels, 7],
      ['llm_chat_turns_ended_total', { ...turnLabels, outcome: 'finished' }, 5],
      ['llm_chat_turns_ended_total', { ...turnLabels, outcome: 'failed' }, 1],
      ['llm_chat_turns_ended_total', { ...turnLabels, outcome: 'stopped' }, 0],
      ['llm_chat_turn_duration_seconds_count', { ...turnLabels, outcome: 'awaiting_approval' }, 3],
      ['llm_chat_turn_duration_seconds_count', turnLabels, 9],
      ['gen_ai_client_operation_duration_seconds_count', { gen_ai_request_model: model }, 11],
      ['gen_ai_client_operation_duration_seconds_count', { error_type: 'upstream_error' }, 1],
      ['llm_chat_upstream_errors_total', { provider: 'ollama', code: 'upstream_error' }, 1],
      ['llm_chat_tokens_total', { ...turnLabels, type: 'input' }, 11 + 9 * 10],
      ['llm_chat_tokens_total', { ...turnLabels, type: 'output' }, 3 + 9 * 2],
      ['gen_ai_client_token_usage_sum', { gen_ai_token_type: 'input', gen_ai_provider_name: 'ollama' }, 101],
      ['llm_chat_time_to_first_token_seconds_count', turnLabels, 10],
      ['llm_chat_tool_decisions_total', { kind: 'user', decision: 'approved' }, 1],
      ['llm_chat_tool_decisions_total', { kind: 'user', decision: 'denied' }, 1],
      ['llm_chat_tool_decisions_total', { kind: 'grant', decision: 'approved' }, 1],
      ['llm_chat_tool_decisions_total', { kind: 'rule', decision: 'approved' }, 1],
      ['llm_chat_tool_decisions_total', { kind: 'hint', decision: 'approved' }, 1],
      ['llm_chat_tool_decisions_total', { kind: 'expiry', decision: 'denied' }, 1],
      ['llm_chat_approval_wait_seconds_sum', { kind: 'user', decision: 'approved' }, 5],
      ['llm_chat_approval_wait_seconds_sum', { kind: 'user', decision: 'denied' }, 2],
      ['llm_chat_approval_wait_seconds_sum', { kind: 'expiry', decision: 'denied' }, 60],
      ['llm_chat_approval_wait_seconds_count', {}, 3],
      ['llm_chat_pending_approvals', {}, 0],
      ['llm_chat_mcp_tool_calls_total', { server: 'fault', tool: 'count', outcome: 'ok' }, 2],
      ['llm_chat_mcp_tool_calls_total', { server: 'fault', tool: 'fail', outcome: 'error' }, 1],
      ['llm_chat_mcp_tool_calls_total', { server: 'fault', tool: 'read_only_echo', outcome: 'ok' }, 1],
      ['llm_chat_mcp_tool_calls_total', { tool: 'write_note' }, 0],
      ['llm_chat_mcp_tool_call_duration_seconds_count', { server: 'fault' }, 4],
      ['llm_chat_mcp_server_state', { server: 'fault', state: 'connected' }, 1],
      ['llm_chat_mcp_server_state', { server: 'fault', state: 'failed' }, 0],
      ['llm_chat_http_requests_total', { method: 'POST', route: '/user_request', status: '200' }, 6],
      ['llm_chat_http_requests_total', { method: 'POST', route: '/user_request', status: '502' }, 1],
      ['llm_chat_http_requests_total', { method: 'POST', route: '/approve', status: '200' }, 2],
      ['llm_chat_http_requests_total', { method: 'GET', route: '/metrics', status: '200' }, 3],
    ];
    for (const [name, labels, value] of expected) {
      expect(sampleValue(samples, name, labels), `${name} ${JSON.stringify(labels)}`).toBe(value);
    }
    for (const secret of [...secrets, 'metrics-token', t.currentDirectory]) expect(text).not.toContain(secret);
    const body = (await t.post('/user_request', { input: 'x' }, 409).catch(() => undefined)) ?? {};
    expect(JSON.stringify(body)).not.toContain('metrics-token');
  });

  it('counts a stopped turn and an open event stream while it is open', async () => {
    const t = await setup();
    upstream.reply({ toolCalls: [{ name: 'write_note', arguments: { path: 'a', content: 'b' } }], usage });
    await t.post('/user_request', { input: 'write' });
    await t.post('/stop', {});
    upstream.reply({ hang: true });
    const stream = await t.app.request('/user_request', {
      method: 'POST',
      headers: { ...t.auth, 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ input: 'hang' }),
    });
    const reader = stream.body!.getReader();
    await reader.read();
    expect(sampleValue((await t.scrape()).samples, 'llm_chat_open_streams')).toBe(1);
    await t.post('/stop', {});
    while (!(await reader.read()).done);
    const { samples } = await t.scrape();
    expect(sampleValue(samples, 'llm_chat_open_streams')).toBe(0);
    expect(sampleValue(samples, 'llm_chat_turns_ended_total', { outcome: 'stopped' })).toBe(2);
    expect(sampleValue(samples, 'llm_chat_tool_decisions_total', { kind: 'user', decision: 'denied' })).toBe(1);
    expect(sampleValue(samples, 'llm_chat_pending_approvals')).toBe(0);
  });

  it('counts each stream that follows a turn, until it ends', async () => {
    const t = await setup();
    const open = async () => sampleValue((await t.scrape()).samples, 'llm_chat_open_streams');
    const hold = createHold(1);
    upstream.reply({ text: ['first ', 'second'], holds: [hold] });
    const stream = await t.app.request('/user_request', {
      method: 'POST',
      headers: { ...t.auth, 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ input: 'go' }),
    });
    const first = stream.body!.getReader();
    await first.read();
    await hold.reached;
    const follower = await t.app.request('/events', { headers: t.auth });
    expect(follower.status).toBe(200);
    const second = follower.body!.getReader();
    await second.read();
    expect(await open()).toBe(2);
    hold.release();
    while (!(await first.read()).done);
    while (!(await second.read()).done);
    expect(await open()).toBe(0);
    // A replay of the ended turn is a stream too, and ends with its replay.
    const replay = await t.app.request('/events', { headers: { ...t.auth, 'last-event-id': '1.0' } });
    expect(replay.status).toBe(200);
    expect(await replay.text()).toContain('event: done');
    expect(await open()).toBe(0);
  });

  it('is behind the bearer token, and absent without a metrics driver', async () => {
    const t = await setup();
    expect((await t.app.request('/metrics')).status).toBe(401);
    const off = await buildTestApp(upstream, { model });
    expect((await off.app.request('/metrics')).status).toBe(404);
  });
});

describe('bounded series', () => {
  it('distinct model names and paths from clients, through the app, all count as `other` and `none`', async () => {
    const metrics = createPrometheusMetrics({ processMetrics: false });
    const t = await buildTestApp(upstream, { model, sessionsPerMinute: 0 }, { dependencies: { metrics } });
    const flood = async (from: number, count: number) => {
      await Promise.all(
        Array.from({ length: count }, async (_, offset) => {
          const name = `flood-model-${from + offset}`;
          upstream.reply({ text: ['ok'], usage });
          const session = (await (await t.post('/start_session', { model: name })).json()) as any;
          expect((await t.post('/user_request', { input: 'hi', session_id: session.session_id })).status).toBe(200);
          expect((await t.app.request(`/no-such-path/${name}`)).status).toBe(404);
        }),
      );
    };
    await flood(0, 2);
    const before = parseSamples((await metrics.scrape!()).body).length;
    await flood(2, 198);
    const { body } = await metrics.scrape!();
    const samples = parseSamples(body);
    expect(samples.length).toBe(before);
    expect(body).not.toContain('flood-model');
    expect(sampleValue(samples, 'llm_chat_turns_started_total', { model: 'other' })).toBe(200);
    expect(sampleValue(samples, 'llm_chat_tokens_total', { model: 'other', type: 'input' })).toBe(2000);
    expect(sampleValue(samples, 'llm_chat_http_requests_total', { route: 'none', status: '404' })).toBe(200);
  });

  it('10,000 distinct model, server and tool names leave the series count where 200 leave it', async () => {
    const metrics = createPrometheusMetrics({ processMetrics: false });
    const clock = createManualClock();
    const config = { ...configSchema.parse({ model }), currentDirectory: '/' };
    // A configured server "fault" with no tools: every call of it is an error result.
    const configured: ToolProvider = { ...noTools, status: () => ({ fault: 'connected' }) };
    const parts = meteredParts(metrics, {
      config,
      clock,
      // The real Ollama adapter, refused at once by a port where nothing listens.
      models: createModels({ ...config, ollamaBaseUrl: `http://127.0.0.1:${await closedPort()}` }),
      tools: configured,
    });
    const tools = observedTools(configured, createLogger({ level: 'error', write: () => {} }), clock, parts.toolMeter);
    const failed = async function* (): AsyncGenerator<TurnEvent> {
      yield { event: 'error', data: { error: { code: 'upstream_error', message: 'refused' } } };
    };
    const flood = async (from: number, count: number) => {
      for (let index = from; index < from + count; index++) {
        const name = `flood-${index}`;
        // Model calls are slow to make (a refused connection each): every 20th name makes one.
        if (index % 20 === 0) {
          const call = parts
            .models('ollama')
            .stream(
              { model: name, messages: [], temperature: 0, contextWindowSize: 2048 },
              new AbortController().signal,
            );
          await expect(call[Symbol.asyncIterator]().next()).rejects.toMatchObject({ code: 'upstream_unavailable' });
        }
        const session = { provider: 'ollama', model: name } as SessionRecord;
        parts.observer.started(session);
        for await (const _ of parts.observer.run(session, failed(), new AbortController().signal));
        const tool = {
          name,
          server: 'fault',
          serverToolName: name,
          description: '',
          inputSchema: {},
          fingerprint: '',
          rule: 'ask' as const,
        };
        await tools.call('/', tool, {}, { signal: new AbortController().signal });
        await tools.call('/', { ...tool, server: name }, {}, { signal: new AbortController().signal });
      }
    };
    await flood(0, 200);
    const before = parseSamples((await metrics.scrape!()).body).length;
    await flood(200, 9_800);
    const { body } = await metrics.scrape!();
    expect(parseSamples(body).length).toBe(before);
    expect(body).toContain('tool="flood-99"');
    expect(body).not.toContain('flood-100');
    const samples = parseSamples(body);
    expect(sampleValue(samples, 'llm_chat_upstream_errors_total', { code: 'upstream_unavailable' })).toBe(500);
    expect(sampleValue(samples, 'llm_chat_turns_ended_total', { model: 'other', outcome: 'failed' })).toBe(10_000);
    // The first 100 tool names of a configured server are labels; the rest, and other servers, are `other`.
    expect(sampleValue(samples, 'llm_chat_mcp_tool_calls_total', { server: 'other', tool: 'other' })).toBe(10_000);
    expect(sampleValue(samples, 'llm_chat_mcp_tool_calls_total', { server: 'fault', tool: 'other' })).toBe(9_900);
  }, 60_000);
});

describe('the deferred driver', () => {
  it('loads on first use, replays what came before, and serves the scrape', async () => {
    let loads = 0;
    const metrics = deferredMetrics(async () => {
      loads += 1;
      return createPrometheusMetrics({ processMetrics: false });
    });
    expect(loads).toBe(0);
    metrics.turnStarted(turnLabels);
    metrics.turnStarted(turnLabels);
    const { body } = await metrics.scrape!();
    expect(sampleValue(parseSamples(body), 'llm_chat_turns_started_total', turnLabels)).toBe(2);
    expect(loads).toBe(1);
  });
});
