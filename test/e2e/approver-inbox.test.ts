/**
 * The approver inbox over real sockets: the app of buildTestApp served by @hono/node-server, a real
 * WHATWG EventSource (the `eventsource` package) on GET /approvals/events, the real fault MCP server
 * counting the runs of its `count` tool.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { EventSource } from 'eventsource';
import Database from 'libsql';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { AppConfig, AppDependencies } from '../../src/app.js';
import { createSqliteStore } from '../../src/store/sqlite-store.js';
import { createManualClock } from '../helpers/manual-clock.js';
import { faultServer, servers } from '../helpers/mcp-servers.js';
import { startServer } from '../helpers/server-process.js';
import { openStream, parseSse } from '../helpers/sse.js';
import { buildTestApp, closeToolProviders, temporaryDirectory } from '../helpers/test-app.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

const upstream = useFakeUpstream({ each: true });
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(() => closeToolProviders());

const chatToken = 'chat-token-3b8e1f';
const approverToken = 'approver-token-9d2c6a';
const asChat = { authorization: `Bearer ${chatToken}` };
const asApprover = { authorization: `Bearer ${approverToken}` };

/** An app with the fault server and both tokens, served on 127.0.0.1; `countFile` holds one line per run of `count`. */
async function startInbox(overrides: Partial<AppConfig> = {}, dependencies: Partial<AppDependencies> = {}) {
  const countFile = join(await temporaryDirectory('inbox-'), 'count.txt');
  const built = await buildTestApp(
    upstream,
    { authToken: chatToken, approverToken, ...overrides },
    { servers: servers({ fault: faultServer(countFile) }), dependencies },
  );
  let server: Server | undefined;
  const info = await new Promise<AddressInfo>((resolve) => {
    server = serve({ fetch: built.app.fetch, port: 0, hostname: '127.0.0.1' }, resolve) as Server;
  });
  cleanups.push(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
  });
  const url = `http://127.0.0.1:${info.port}`;
  const post = async (path: string, body: unknown, headers: Record<string, string>) => {
    const response = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as any };
  };
  /** A new session whose model asks to count `label`: the call waits for approval (queue the model's next answer before deciding). */
  const pendingCall = async (label: string) => {
    const session = await post('/start_session', {}, asChat);
    upstream.reply({ toolCalls: [{ name: 'count', arguments: { label } }] });
    const asked = await post('/user_request', { input: `count ${label}`, session_id: session.body.session_id }, asChat);
    expect(asked.body).toMatchObject({ requires_approval: true, tool: { name: 'count', arguments: { label } } });
    return { sessionId: asked.body.session_id as string, requestId: asked.body.request_id as string };
  };
  const counted = async () => (await readFile(countFile, 'utf8').catch(() => '')).split('\n').filter(Boolean);
  return { ...built, url, post, pendingCall, counted };
}

/** Events of an EventSource on the inbox, and a wait for the first that satisfies a condition (checked as events arrive). */
function followInbox(url: string) {
  const received: Array<{ event: string; id: string; data: any }> = [];
  const waiters = new Set<() => void>();
  const source = new EventSource(url);
  cleanups.push(() => source.close());
  for (const name of ['snapshot', 'approval_requested', 'approval_decided']) {
    source.addEventListener(name, (event: MessageEvent) => {
      received.push({ event: name, id: event.lastEventId, data: JSON.parse(event.data) });
      for (const waiter of [...waiters]) waiter();
    });
  }
  const next = (what: string, test: (event: (typeof received)[number]) => boolean, timeout = 10_000) =>
    new Promise<(typeof received)[number]>((resolve, reject) => {
      const check = () => {
        const found = received.find(test);
        if (!found) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(found);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no ${what} within ${timeout} ms; got ${JSON.stringify(received)}`));
      }, timeout);
      waiters.add(check);
      check();
    });
  return { received, next };
}

describe('the approver inbox', { timeout: 120_000 }, () => {
  it('one approver’s EventSource sees the calls of two sessions and approves both; each tool runs once', async () => {
    const t = await startInbox();
    const inbox = followInbox(`${t.url}/approvals/events?access_token=${approverToken}`);
    expect((await inbox.next('snapshot', (event) => event.event === 'snapshot')).data).toEqual({ approvals: [] });

    const first = await t.pendingCall('first');
    const second = await t.pendingCall('second');
    for (const call of [first, second]) {
      const requested = await inbox.next('approval_requested', (event) => event.data.request_id === call.requestId);
      expect(requested).toMatchObject({
        event: 'approval_requested',
        data: {
          session_id: call.sessionId,
          tool: { name: 'count', server: 'fault' },
          arguments: { label: call === first ? 'first' : 'second' },
          created_at: expect.any(String),
          expires_at: expect.any(String),
        },
      });
    }

    const listed = await (await fetch(`${t.url}/approvals`, { headers: asApprover })).json();
    expect(listed.approvals.map((item: any) => [item.session_id, item.request_id])).toEqual([
      [first.sessionId, first.requestId],
      [second.sessionId, second.requestId],
    ]);
    expect(listed.approvals[0]).toMatchObject({ age_seconds: expect.any(Number), arguments: { label: 'first' } });

    for (const call of [first, second]) {
      upstream.reply({ text: ['Counted.'] });
      const decided = await t.post(
        '/approve',
        { session_id: call.sessionId, request_id: call.requestId, approve: true },
        asApprover,
      );
      expect(decided.status).toBe(200);
      expect(decided.body).toMatchObject({ requires_approval: false, session_id: call.sessionId });
      const event = await inbox.next(
        'approval_decided',
        (item) => item.event === 'approval_decided' && item.data.request_id === call.requestId,
      );
      expect(event.data).toMatchObject({
        session_id: call.sessionId,
        status: 'approved',
        decided_by: { kind: 'approver' },
        decided_at: expect.any(String),
      });
    }
    expect((await t.counted()).sort()).toEqual(['first', 'second']);
    expect((await (await fetch(`${t.url}/approvals`, { headers: asApprover })).json()).approvals).toEqual([]);
    // Ids grow; every event came once.
    const ids = inbox.received.map((event) => Number(event.id.split('.')[1]));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(inbox.received.filter((event) => event.event === 'approval_decided')).toHaveLength(2);
  });

  it('resumes after Last-Event-ID with what was missed; an id it cannot resume from gets a fresh snapshot; pings while idle', async () => {
    const clock = createManualClock();
    const t = await startInbox({}, { clock, keepAlive: 15_000 });
    const controller = new AbortController();
    const open = async (headers: Record<string, string> = {}) => {
      const response = await fetch(`${t.url}/approvals/events`, {
        headers: { ...asApprover, ...headers },
        signal: controller.signal,
      });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toContain('text/event-stream');
      return openStream(response);
    };
    cleanups.push(() => controller.abort());

    const stream = await open();
    await stream.until((text) => text.includes('event: snapshot'));
    const seen = await t.pendingCall('seen');
    await stream.until((text) => text.includes(seen.requestId));
    await clock.advance(15_000);
    await stream.until((text) => text.includes(': ping'));
    const [snapshot, requested] = parseSse(stream.text());
    expect(snapshot).toMatchObject({ event: 'snapshot', data: { approvals: [] } });
    expect(requested).toMatchObject({ event: 'approval_requested', data: { request_id: seen.requestId } });
    await stream.cancel();

    const missed = await t.pendingCall('missed');
    const resumed = await open({ 'last-event-id': requested.id });
    await resumed.until((text) => text.includes(missed.requestId));
    expect(parseSse(resumed.text())).toEqual([
      expect.objectContaining({
        event: 'approval_requested',
        data: expect.objectContaining({ request_id: missed.requestId }),
      }),
    ]);
    await resumed.cancel();

    for (const lastEventId of ['not-an-id', '0badc0de.1', snapshot.id.replace(/\d+$/, '999')]) {
      const fresh = await open({ 'last-event-id': lastEventId });
      await fresh.until((text) => text.includes('event: snapshot'));
      const [again] = parseSse(fresh.text());
      expect(again.data.approvals.map((item: any) => item.request_id)).toEqual([seen.requestId, missed.requestId]);
      await fresh.cancel();
    }
  });

  it('tells the inbox when an approval expires, without anyone reading the session', async () => {
    const clock = createManualClock();
    const t = await startInbox({ approvalTtl: 60_000 }, { clock });
    const inbox = followInbox(`${t.url}/approvals/events?access_token=${approverToken}`);
    await inbox.next('snapshot', (event) => event.event === 'snapshot');
    const call = await t.pendingCall('late');
    await inbox.next('approval_requested', (event) => event.data.request_id === call.requestId);
    await clock.advance(60_000);
    const expired = await inbox.next('approval_decided', (event) => event.event === 'approval_decided');
    expect(expired.data).toMatchObject({
      request_id: call.requestId,
      status: 'expired',
      decided_by: { kind: 'expiry' },
      reason: 'approval expired',
      decided_at: new Date(Date.UTC(2026, 0, 1) + 60_000).toISOString(),
    });
    const late = await t.post(
      '/approve',
      { session_id: call.sessionId, request_id: call.requestId, approve: true },
      asApprover,
    );
    expect(late.status).toBe(410);
    expect(await t.counted()).toEqual([]);
  });

  it('50 approvers racing on one call through two servers on one SQLite database: one approval, one run', async () => {
    const path = join(await temporaryDirectory('inbox-race-'), 'sessions.db');
    const connect = () => {
      const database = new Database(path);
      database.exec('PRAGMA journal_mode = WAL');
      database.exec('PRAGMA busy_timeout = 5000');
      cleanups.push(() => database.close());
      return createSqliteStore({ database });
    };
    const first = await startInbox({}, { store: connect() });
    const countFile = join(await temporaryDirectory('inbox-race-'), 'count.txt');
    const second = await buildTestApp(
      upstream,
      { authToken: chatToken, approverToken },
      { servers: servers({ fault: faultServer(countFile) }), dependencies: { store: connect() } },
    );
    const call = await first.pendingCall('raced');
    // Both servers list the call: the inbox reads the shared database.
    for (const app of [first.app, second.app]) {
      const listed = await (await app.request('/approvals', { headers: asApprover })).json();
      expect(listed.approvals.map((item: any) => item.request_id)).toEqual([call.requestId]);
    }
    const approve = async (app: typeof first.app) => {
      const response = await app.request('/approve', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...asApprover },
        body: JSON.stringify({ session_id: call.sessionId, request_id: call.requestId, approve: true }),
      });
      return { status: response.status, body: (await response.json()) as any };
    };
    upstream.reply({ text: ['Counted raced.'] });
    const statuses = await Promise.all(
      Array.from({ length: 50 }, (_, index) => approve(index % 2 ? second.app : first.app)),
    );
    const winners = statuses.filter((response) => response.status === 200);
    expect(winners).toHaveLength(1);
    expect(winners[0].body).toMatchObject({ requires_approval: false, message: 'Counted raced.' });
    for (const loser of statuses.filter((response) => response.status !== 200)) {
      expect(loser).toMatchObject({ status: 409, body: { error: { code: 'already_decided' } } });
    }
    const runs = [
      ...(await first.counted()),
      ...(await readFile(countFile, 'utf8').catch(() => '')).split('\n').filter(Boolean),
    ];
    expect(runs).toEqual(['raced']);
    const audit = await (await second.app.request('/audit', { headers: asApprover })).json();
    expect(audit.entries).toEqual([
      expect.objectContaining({ request_id: call.requestId, decided_by: { kind: 'approver' }, outcome: 'executed' }),
    ]);
  });
});

describe('separation of duties (--approver-token)', { timeout: 60_000 }, () => {
  it('refuses the chat token on the approver routes with 403, and any other token with 401', async () => {
    const t = await buildTestApp(upstream, { authToken: chatToken, approverToken });
    const cases: Array<[string, RequestInit]> = [
      [
        '/approve',
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"request_id":"r1","approve":true}' },
      ],
      ['/approvals', {}],
      ['/approvals/events', {}],
      ['/audit', {}],
    ];
    for (const [path, init] of cases) {
      const forbidden = await t.app.request(path, { ...init, headers: { ...init.headers, ...asChat } });
      expect(forbidden.status, path).toBe(403);
      expect((await forbidden.json()).error).toEqual({
        code: 'approver_token_required',
        message:
          'Only the approver token (--approver-token) may decide tool calls and read the approval inbox and audit trail; the chat token may not.',
      });
      const missing = await t.app.request(path, init);
      expect(missing.status, path).toBe(401);
      expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    }
    // The chat token in the URL of the inbox stream is refused the same way.
    const inUrl = await t.app.request(`/approvals/events?access_token=${chatToken}`);
    expect(inUrl.status).toBe(403);
    // The approver token opens no chat route.
    const chat = await t.app.request('/session_state', { headers: asApprover });
    expect(chat.status).toBe(401);
    // HEAD would open a stream nobody reads.
    const head = await t.app.request('/approvals/events', { method: 'HEAD', headers: asApprover });
    expect(head.status).toBe(405);
    expect(head.headers.get('allow')).toBe('GET');
  });

  it('without --approver-token, the chat token decides and reads the inbox', async () => {
    const t = await buildTestApp(upstream, { authToken: chatToken });
    const listed = await t.app.request('/approvals', { headers: asChat });
    expect(listed.status).toBe(200);
    expect(await listed.json()).toEqual({ approvals: [] });
    const audit = await t.app.request('/audit', { headers: asChat });
    expect(audit.status).toBe(200);
  });
});

describe('the real server with --approver-token and --audit-log', { timeout: 120_000 }, () => {
  it('appends the approver’s decision to a 0600 file holding no argument or env value, and never logs the tokens', async () => {
    const cwd = await temporaryDirectory('audit-e2e-');
    const envCanary = 'env-canary-e2e-71f3a9';
    const argumentCanary = 'argument-canary-e2e-2c8d5b';
    const serversFile = join(cwd, 'servers.json');
    const countFile = join(cwd, 'count.txt');
    await writeFile(
      serversFile,
      JSON.stringify({
        mcpServers: { fault: faultServer(countFile, { env: { FAULT_COUNT_FILE: countFile, CANARY: envCanary } }) },
      }),
    );
    const auditLog = join(cwd, 'audit.jsonl');
    const server = await startServer(
      [
        '--ollama-base-url',
        upstream.url,
        '--servers-config',
        serversFile,
        '--store',
        'memory',
        '--audit-log',
        'audit.jsonl',
      ],
      { cwd, env: { AUTH_TOKEN: chatToken, APPROVER_TOKEN: approverToken } },
    );
    cleanups.push(() => server.stop());
    const post = async (path: string, body: unknown, headers: Record<string, string>) =>
      (await fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      })) as Response;
    upstream.reply({ toolCalls: [{ name: 'count', arguments: { label: argumentCanary } }] }, { text: ['Counted.'] });
    const asked = (await (await post('/user_request', { input: 'count' }, asChat)).json()) as any;
    expect(asked.requires_approval).toBe(true);
    const byChat = await post('/approve', { request_id: asked.request_id, approve: true }, asChat);
    expect(byChat.status).toBe(403);
    const byApprover = await post('/approve', { request_id: asked.request_id, approve: true }, asApprover);
    expect(byApprover.status).toBe(200);
    await server.stop();

    expect((await stat(auditLog)).mode & 0o777).toBe(0o600);
    const text = await readFile(auditLog, 'utf8');
    expect(
      text
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line)),
    ).toEqual([
      expect.objectContaining({ request_id: asked.request_id, decided_by: { kind: 'approver' }, outcome: 'executed' }),
    ]);
    for (const canary of [envCanary, argumentCanary]) expect(text).not.toContain(canary);
    expect(server.output()).toContain(`audit log: every approval decision is appended to ${auditLog}`);
    for (const token of [chatToken, approverToken]) expect(server.output()).not.toContain(token);
  });
});
