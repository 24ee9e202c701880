import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWorker } from '../../scripts/worker-bundle.js';
import { createMemoryStore } from '../../src/store/memory-store.js';
import { buildWorkerServer } from '../../src/workers/build-worker-server.js';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';
import { type FaultHttpServer, startFaultHttpServer } from '../helpers/mcp-fault-server.js';
import { parseSse } from '../helpers/sse.js';
import { canaryApiKey, temporaryDirectory } from '../helpers/test-app.js';

// The Worker bundle, built by wrangler as `wrangler deploy` builds it, run in workerd by Miniflare
// with a KV namespace for sessions, against the fake upstream's OpenAI route and an MCP server over
// Streamable HTTP on 127.0.0.1.
const token = 'worker-token-123';
let upstream: FakeUpstream;
let fault: FaultHttpServer;
let countFile: string;
let bundle: string;
let mf: Miniflare;

/** The bundle in workerd with a KV namespace and the settings every test shares, plus `bindings`. */
function startWorker(bindings: Record<string, string>, extra: { durableObjects?: Record<string, string> } = {}) {
  return new Miniflare({
    modules: true,
    scriptPath: bundle,
    modulesRoot: join(bundle, '..'),
    compatibilityDate: '2026-04-01',
    compatibilityFlags: ['nodejs_compat'],
    kvNamespaces: ['SESSIONS'],
    ...extra,
    bindings: {
      LLM_PROVIDER: 'openai',
      LLM_MODEL: 'gpt-4o-mini',
      OPENAI_BASE_URL: upstream.openaiUrl,
      AUTH_TOKEN: token,
      ...bindings,
    },
  });
}

beforeAll(async () => {
  upstream = await startFakeUpstream();
  const directory = await temporaryDirectory();
  countFile = join(directory, 'count.txt');
  fault = await startFaultHttpServer({ countFile });
  bundle = await buildWorker(join(directory, 'worker'));
  mf = startWorker({
    LLM_API_KEY: canaryApiKey,
    MCP_SERVERS: JSON.stringify({
      mcpServers: {
        fault: { url: fault.url },
        local: { command: 'node', args: ['server.js'] },
      },
    }),
  });
  await mf.ready;
}, 60_000);

afterAll(async () => {
  await mf?.dispose();
  await fault?.close();
  await upstream?.close();
});

/** A request to `worker` (the KV-only one unless given), with the token unless `auth: false`. */
const call = (path: string, init: { method?: string; body?: unknown; auth?: boolean; worker?: Miniflare } = {}) =>
  (init.worker ?? mf).dispatchFetch(`http://localhost${path}`, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: {
      ...(init.auth === false ? {} : { authorization: `Bearer ${token}` }),
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      'accept-encoding': 'identity',
    },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });

const counted = async () => (await readFile(countFile, 'utf8').catch(() => '')).split('\n').filter(Boolean);

describe('the Worker on the local Workers runtime', () => {
  it('builds a bundle with no child_process (and no prom-client) in it', async () => {
    const code = await readFile(bundle, 'utf8');
    expect(code).not.toContain('child_process');
    expect(code).not.toContain('collectDefaultMetrics');
    expect(code.length).toBeGreaterThan(10_000);
  });

  it('offers no /metrics (Workers have no Prometheus driver)', async () => {
    expect((await call('/metrics')).status).toBe(404);
  });

  it('skips stdio MCP servers (disabled in /health), reaches the HTTP one, serves /health without a token', async () => {
    await call('/session_state');
    const health = (await (await call('/health', { auth: false })).json()) as any;
    expect(health).toMatchObject({ status: 'ok', provider: 'openai', model: 'gpt-4o-mini' });
    expect(health.mcp.local).toBe('disabled');
    expect(health.mcp.fault).toBe('connected');
  });

  it('requires the token everywhere else', async () => {
    expect((await call('/session_state', { auth: false })).status).toBe(401);
  });

  it('JSON: a chat with an approved tool call; the session lives in KV', async () => {
    const session = (await (await call('/start_session', { body: {} })).json()) as any;
    upstream.reply(
      { toolCalls: [{ name: 'count', arguments: { label: 'worker' } }] },
      { text: ['Counted on Workers.'] },
    );
    const first = (await (
      await call('/user_request', { body: { input: 'count', session_id: session.session_id } })
    ).json()) as any;
    expect(first).toMatchObject({ requires_approval: true, tool: { name: 'count', server: 'fault' } });
    const done = await call('/approve', {
      body: { request_id: first.request_id, approve: true, session_id: session.session_id },
    });
    const body = (await done.json()) as any;
    expect(body.tool_calls[0].result).toBe('counted');
    expect(body).toMatchObject({
      message: 'Counted on Workers.',
      tool_calls: [{ status: 'executed', is_error: false }],
    });
    expect(await counted()).toContain('worker');
    const kv = await mf.getKVNamespace('SESSIONS');
    const stored = await kv.get(`session:${session.session_id}`, 'text');
    expect(stored).toContain('Counted on Workers.');
    expect(stored).not.toContain(canaryApiKey);
    expect(upstream.chatRequests().at(-1)?.headers.authorization).toBe(`Bearer ${canaryApiKey}`);
  });

  it('keeps the audit trail in each session (GET /audit?session_id=); nothing is listed across sessions (501)', async () => {
    const session = (await (await call('/start_session', { body: {} })).json()) as any;
    upstream.reply({ toolCalls: [{ name: 'count', arguments: { label: 'audited' } }] }, { text: ['Audited.'] });
    const first = (await (
      await call('/user_request', { body: { input: 'count', session_id: session.session_id } })
    ).json()) as any;
    await call('/approve', { body: { request_id: first.request_id, approve: true, session_id: session.session_id } });
    const audit = (await (await call(`/audit?session_id=${session.session_id}`)).json()) as any;
    expect(audit.entries).toEqual([
      expect.objectContaining({ request_id: first.request_id, decided_by: { kind: 'user' }, outcome: 'executed' }),
    ]);
    for (const path of ['/approvals', '/approvals/events', '/audit']) {
      const response = await call(path);
      expect(response.status, path).toBe(501);
      expect(((await response.json()) as any).error.code).toBe('not_implemented');
    }
  });

  it('refuses AUDIT_LOG: a Worker has no files', () => {
    const built = buildWorkerServer(
      { SESSIONS: {} as never, AUTH_TOKEN: token, AUDIT_LOG: '/audit.jsonl' },
      'standalone',
      {
        store: createMemoryStore(),
      },
    );
    expect(built).toEqual({
      error:
        'AUDIT_LOG: a Worker has no files; read the audit trail with GET /audit (each session keeps its latest entries).',
    });
  });

  it('exactly once within a Worker instance: 20 racing approvals, one winner, one run', async () => {
    const session = (await (await call('/start_session', { body: {} })).json()) as any;
    upstream.reply({ toolCalls: [{ name: 'count', arguments: { label: 'race' } }] }, { text: ['Once.'] });
    const first = (await (
      await call('/user_request', { body: { input: 'count', session_id: session.session_id } })
    ).json()) as any;
    const responses = await Promise.all(
      Array.from({ length: 20 }, () =>
        call('/approve', { body: { request_id: first.request_id, approve: true, session_id: session.session_id } }),
      ),
    );
    const statuses = responses.map((response) => response.status).sort();
    expect(statuses.filter((status) => status === 200)).toHaveLength(1);
    expect(statuses.filter((status) => status === 409)).toHaveLength(19);
    expect((await counted()).filter((line) => line === 'race')).toHaveLength(1);
  });

  it('SSE: the stream ends at approval_required (no waiting on Workers); /approve streams the continuation', async () => {
    const session = (await (await call('/start_session', { body: {} })).json()) as any;
    upstream.reply(
      { text: ['Let me count.'], toolCalls: [{ name: 'count', arguments: { label: 'sse' } }] },
      { text: ['Streamed ', 'on Workers.'] },
    );
    const response = await call('/user_request', {
      body: { input: 'count', session_id: session.session_id, stream: true },
    });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const events = parseSse(await response.text());
    expect(events.map((event) => event.event)).toEqual(['session', 'token', 'approval_required', 'done']);
    expect(events.at(-1)?.data.requires_approval).toBe(true);
    const request_id = events[2].data.request_id;
    const continued = await call('/approve', {
      body: { request_id, approve: true, session_id: session.session_id, stream: true },
    });
    const rest = parseSse(await continued.text());
    expect(rest.map((event) => event.event)).toEqual(['session', 'tool_call', 'tool_result', 'token', 'token', 'done']);
    expect(rest.at(-1)?.data.message).toBe('Streamed on Workers.');
  });
});

describe('the Worker with session hubs (Durable Objects) on the local Workers runtime', () => {
  let hubs: Miniflare;

  beforeAll(async () => {
    hubs = startWorker(
      { MCP_SERVERS: JSON.stringify({ mcpServers: { fault: { url: fault.url } } }) },
      { durableObjects: { SESSION_HUB: 'SessionHub' } },
    );
    await hubs.ready;
  }, 60_000);
  afterAll(() => hubs?.dispose());

  const hubCall = (path: string, body?: unknown) => call(path, { body, worker: hubs });

  it('with no session ever started, a request that names none creates the default session in a hub', async () => {
    upstream.reply({ text: ['Fresh default.'] });
    const first = (await (await hubCall('/user_request', { input: 'hello' })).json()) as any;
    expect(first.message).toBe('Fresh default.');
    const state = (await (await hubCall(`/session_state?session_id=${first.session_id}`)).json()) as any;
    expect(state.messages.at(-1).content).toBe('Fresh default.');
  });

  it('an open stream waits on the approval; /approve from another request continues it', async () => {
    const session = (await (await hubCall('/start_session', {})).json()) as any;
    upstream.reply({ toolCalls: [{ name: 'count', arguments: { label: 'hub' } }] }, { text: ['Counted in the hub.'] });
    const response = await hubCall('/user_request', { input: 'count', session_id: session.session_id, stream: true });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!text.includes('event: approval_required')) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`the stream ended before approval_required: ${text}`);
      text += decoder.decode(value);
    }
    const request_id = parseSse(text).find((event) => event.event === 'approval_required')?.data.request_id;
    const decision = await hubCall('/approve', { request_id, approve: true, session_id: session.session_id });
    expect(decision.status).toBe(202);
    expect(await decision.json()).toMatchObject({ delivered: 'stream' });
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value);
    }
    const events = parseSse(text);
    expect(events.map((event) => event.event)).toEqual([
      'session',
      'approval_required',
      'tool_call',
      'tool_result',
      'token',
      'done',
    ]);
    expect(events.at(-1)?.data.message).toBe('Counted in the hub.');
  });

  it('exactly once across requests: 20 racing approvals, one winner, one run', async () => {
    const session = (await (await hubCall('/start_session', {})).json()) as any;
    upstream.reply({ toolCalls: [{ name: 'count', arguments: { label: 'hub-race' } }] }, { text: ['Once.'] });
    const first = (await (
      await hubCall('/user_request', { input: 'count', session_id: session.session_id })
    ).json()) as any;
    const responses = await Promise.all(
      Array.from({ length: 20 }, () =>
        hubCall('/approve', { request_id: first.request_id, approve: true, session_id: session.session_id }),
      ),
    );
    expect(responses.filter((response) => response.status === 200)).toHaveLength(1);
    expect(responses.filter((response) => response.status === 409)).toHaveLength(19);
    expect((await counted()).filter((line) => line === 'hub-race')).toHaveLength(1);
    // The front reads the session's audit trail from KV, where its hub wrote it.
    const audit = (await (await hubCall(`/audit?session_id=${session.session_id}`)).json()) as any;
    expect(audit.entries).toEqual([expect.objectContaining({ request_id: first.request_id, outcome: 'executed' })]);
  });

  it('requests that name no session reach the most recently started one, in its hub', async () => {
    const started = (await (await hubCall('/start_session', {})).json()) as any;
    upstream.reply({ text: ['Default here.'] }, { text: ['Still here.'] });
    const first = (await (await hubCall('/user_request', { input: 'hi' })).json()) as any;
    expect(first).toMatchObject({ message: 'Default here.', session_id: started.session_id });
    const second = (await (await hubCall('/user_request', { input: 'again' })).json()) as any;
    expect(second.session_id).toBe(started.session_id);
    const state = (await (await hubCall('/session_state')).json()) as any;
    expect(state.session_id).toBe(started.session_id);
    expect(state.messages.map((message: { content: string }) => message.content).slice(1)).toEqual([
      'hi',
      'Default here.',
      'again',
      'Still here.',
    ]);
  });

  it('a default session that is gone is made anew, as on Node: requests naming none never get 404', async () => {
    const started = (await (await hubCall('/start_session', {})).json()) as any;
    const kv = await hubs.getKVNamespace('SESSIONS');
    await kv.delete(`session:${started.session_id}`);
    upstream.reply({ text: ['A new default.'] });
    const response = await hubCall('/user_request', { input: 'hello?' });
    expect(response.status).toBe(200);
    const body = (await response.json()) as any;
    expect(body.message).toBe('A new default.');
    expect(body.session_id).not.toBe(started.session_id);
    expect(await kv.get('session:default', 'text')).toBe(body.session_id);
  });

  it('an unknown session id is 404 at the front; /health says the URL server is idle there, not connecting', async () => {
    const response = await hubCall('/user_request', { input: 'hi', session_id: 'nobody-started-this' });
    expect(response.status).toBe(404);
    expect(((await response.json()) as any).error.code).toBe('unknown_session');
    const health = (await (await call('/health', { auth: false, worker: hubs })).json()) as any;
    expect(health.mcp.fault).toBe('idle');
  });
});

describe('the Worker with session hubs and REQUIRE_SESSION_ID', () => {
  let strict: Miniflare;

  beforeAll(async () => {
    strict = startWorker({ REQUIRE_SESSION_ID: 'true' }, { durableObjects: { SESSION_HUB: 'SessionHub' } });
    await strict.ready;
  }, 60_000);
  afterAll(() => strict?.dispose());

  it('a request that names no session is 400 session_required, and no default session is made', async () => {
    const before = upstream.chatRequests().length;
    const response = await call('/user_request', { body: { input: 'hello' }, worker: strict });
    expect(response.status).toBe(400);
    expect(((await response.json()) as any).error.code).toBe('session_required');
    expect(await (await strict.getKVNamespace('SESSIONS')).get('session:default', 'text')).toBeNull();
    expect(upstream.chatRequests()).toHaveLength(before);
  });
});
