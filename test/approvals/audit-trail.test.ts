import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AppConfig } from '../../src/app.js';
import { argumentsHash } from '../../src/approvals/fingerprint.js';
import { createLogger } from '../../src/logger.js';
import { openAuditLogFile } from '../../src/node/audit-log-file.js';
import { createManualClock } from '../helpers/manual-clock.js';
import { faultServer, servers } from '../helpers/mcp-servers.js';
import { buildTestApp, closeToolProviders, temporaryDirectory } from '../helpers/test-app.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

const upstream = useFakeUpstream({ each: true });
afterAll(() => closeToolProviders());

/** Values that must never reach the audit trail: an MCP server's env value and an argument. */
const envCanary = 'env-canary-5c1e7a9b3d';
const argumentCanary = 'argument-canary-8f2d4b6a1c';

const rules = [
  { tool: 'count', label: 'allowed-*', decision: 'allow' },
  { tool: 'count', label: 'refused-*', decision: 'deny' },
  { tool: 'count', label: 'asked-*', decision: 'ask' },
];

/**
 * An app with the fault server (an env value that is a canary, the rules above) and, with
 * `auditLog`, the --audit-log file's sink, as the Node entry wires it.
 */
async function setup(config: Partial<AppConfig> = {}, options: { auditLog?: string; clock?: any } = {}) {
  const directory = await temporaryDirectory('audit-');
  const countFile = join(directory, 'count.txt');
  const file = options.auditLog ? await openAuditLogFile(options.auditLog) : undefined;
  const logger = createLogger({ level: 'error', write: () => undefined });
  const built = await buildTestApp(upstream, config, {
    servers: servers({
      fault: faultServer(countFile, { env: { FAULT_COUNT_FILE: countFile, AUDIT_CANARY: envCanary }, rules }),
    }),
    dependencies: { clock: options.clock, auditSink: file?.sink(logger) },
  });
  const headers: Record<string, string> = config.authToken ? { authorization: `Bearer ${config.authToken}` } : {};
  const ask = async (calls: Array<{ name: string; arguments: Record<string, unknown> }>, session_id?: string) => {
    upstream.reply({ toolCalls: calls }, { text: ['Done.'] });
    const response = await built.post('/user_request', { input: 'go', session_id }, headers);
    expect(response.status, await response.clone().text()).toBe(200);
    return (await response.json()) as any;
  };
  const decide = async (body: Record<string, unknown>, token = config.approverToken ?? config.authToken) => {
    const response = await built.post('/approve', body, token ? { authorization: `Bearer ${token}` } : {});
    expect(response.status, await response.clone().text()).toBe(200);
    return (await response.json()) as any;
  };
  const audit = async (query = '', token = config.approverToken ?? config.authToken) => {
    const response = await built.app.request(`/audit${query}`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    expect(response.status, await response.clone().text()).toBe(200);
    return (await response.json()) as { entries: any[]; next_before: string | null };
  };
  return { ...built, ask, decide, audit, file, headers };
}

const count = (label: string) => ({ name: 'count', arguments: { label } });

describe('the audit trail: one entry per decision, whatever decided', { timeout: 60_000 }, () => {
  it('records a person approving (with how long the tool ran) and denying, a grant, rules, a read-only hint and a stop', async () => {
    const t = await setup({ autoApproveReadOnly: true });
    const denied = await t.ask([count('two')]);
    await t.decide({ request_id: denied.request_id, approve: false, reason: 'not today' });
    const approved = await t.ask([count('one')]);
    await t.decide({ request_id: approved.request_id, approve: true, remember: 'session' });
    const granted = await t.ask([count('three')]);
    const byRules = await t.ask([count('allowed-1'), count('refused-1')]);
    const hinted = await t.ask([{ name: 'read_only_echo', arguments: { text: 'hi' } }]);
    const unknown = await t.ask([{ name: 'no_such_tool', arguments: {} }]);
    const stopped = await t.ask([count('asked-1')]);
    expect(stopped.requires_approval).toBe(true);
    expect((await t.post('/stop', {})).status).toBe(200);

    const { entries, next_before } = await t.audit();
    expect(next_before).toBeNull();
    const of = (body: any, index = 0) =>
      entries.filter((entry) => entry.request_id === body.tool_calls[index].request_id);
    // Exactly one entry per decided call; none for the call of an unknown tool, which nobody decided.
    expect(entries).toHaveLength(7);
    expect(of(unknown)).toEqual([]);
    const [approval] = of(approved);
    expect(approval).toMatchObject({
      session_id: approved.session_id,
      tool: 'count',
      server: 'fault',
      arguments_sha256: await argumentsHash({ label: 'one' }),
      decision: 'approved',
      decided_by: { kind: 'user' },
      outcome: 'executed',
    });
    expect(approval.duration_ms).toBeGreaterThanOrEqual(0);
    expect(Date.parse(approval.recorded_at)).toBeGreaterThanOrEqual(Date.parse(approval.decided_at));
    expect(of(denied)).toEqual([
      expect.objectContaining({
        decision: 'denied',
        decided_by: { kind: 'user' },
        reason: 'not today',
        outcome: 'denied',
      }),
    ]);
    expect(of(denied)[0]).not.toHaveProperty('duration_ms');
    expect(of(granted)).toEqual([
      expect.objectContaining({
        decision: 'approved',
        decided_by: expect.objectContaining({ kind: 'grant', for: 'session', server: 'fault', tool: 'count' }),
        outcome: 'executed',
      }),
    ]);
    expect(of(byRules, 0)).toEqual([
      expect.objectContaining({
        decision: 'approved',
        decided_by: expect.objectContaining({ kind: 'rule', server: 'fault', index: 0 }),
        outcome: 'executed',
      }),
    ]);
    expect(of(byRules, 1)).toEqual([
      expect.objectContaining({
        decision: 'denied',
        decided_by: expect.objectContaining({ kind: 'rule', index: 1 }),
        reason: expect.stringContaining('rules[1] of server "fault"'),
        outcome: 'denied',
      }),
    ]);
    expect(of(hinted)).toEqual([
      expect.objectContaining({ tool: 'read_only_echo', decided_by: { kind: 'read_only_hint' }, outcome: 'executed' }),
    ]);
    expect(of(stopped)).toEqual([
      expect.objectContaining({
        decision: 'denied',
        decided_by: { kind: 'turn_end' },
        asked_by: expect.objectContaining({ kind: 'rule', index: 2 }),
        reason: 'stopped by user',
        outcome: 'denied',
      }),
    ]);
    // Newest decision first.
    const times = entries.map((entry) => Date.parse(entry.decided_at));
    expect(times).toEqual([...times].sort((a, b) => b - a));
  });

  it('records the approver, with --approver-token', async () => {
    const t = await setup({ authToken: 'chat-token-1', approverToken: 'approver-token-1' });
    const body = await t.ask([count('by-approver')]);
    await t.decide({ session_id: body.session_id, request_id: body.request_id, approve: true });
    const { entries } = await t.audit();
    expect(entries).toEqual([
      expect.objectContaining({ request_id: body.request_id, decided_by: { kind: 'approver' }, outcome: 'executed' }),
    ]);
  });

  it('records an expiry once, when the approval time is up, and when the call was due, not when it was seen', async () => {
    const clock = createManualClock();
    const t = await setup({ approvalTtl: 60_000 }, { clock });
    const body = await t.ask([count('late')]);
    await clock.advance(61_000);
    // The session's lock orders this read after the expiry the inbox's timer set off.
    await t.app.request(`/session_state?session_id=${body.session_id}`);
    const { entries } = await t.audit();
    expect(entries).toEqual([
      expect.objectContaining({
        request_id: body.request_id,
        decision: 'expired',
        decided_by: { kind: 'expiry' },
        reason: 'approval expired',
        outcome: 'expired',
        decided_at: new Date(Date.UTC(2026, 0, 1) + 60_000).toISOString(),
      }),
    ]);
    // Reading the session again, and continuing it, adds nothing.
    upstream.reply({ text: ['Fine.'] });
    await t.post('/user_request', { input: 'never mind', session_id: body.session_id });
    expect((await t.audit()).entries).toHaveLength(1);
  });

  it('filters by session, tool and time, and pages newest first', async () => {
    const clock = createManualClock();
    const t = await setup({ autoApproveReadOnly: true }, { clock });
    const first = await t.ask([count('allowed-a')]);
    await clock.advance(60_000);
    await t.ask([count('allowed-b')], first.session_id);
    await clock.advance(60_000);
    await t.ask([{ name: 'read_only_echo', arguments: { text: 'x' } }], first.session_id);
    await clock.advance(60_000);
    const other = await (await t.post('/start_session', {})).json();
    await t.ask([count('allowed-c')], other.session_id);

    const all = await t.audit();
    expect(all.entries.map((entry) => entry.session_id)).toEqual([
      other.session_id,
      first.session_id,
      first.session_id,
      first.session_id,
    ]);
    expect((await t.audit(`?session_id=${other.session_id}`)).entries).toHaveLength(1);
    expect((await t.audit('?tool=read_only_echo')).entries).toHaveLength(1);
    const start = Date.UTC(2026, 0, 1);
    const window = `?since=${new Date(start + 30_000).toISOString()}&until=${new Date(start + 90_000).toISOString()}`;
    expect((await t.audit(window)).entries).toEqual([
      expect.objectContaining({ arguments_sha256: await argumentsHash({ label: 'allowed-b' }) }),
    ]);
    const pages: any[][] = [];
    let query = '?limit=3';
    for (;;) {
      const page = await t.audit(query);
      pages.push(page.entries);
      if (!page.next_before) break;
      query = `?limit=3&before=${encodeURIComponent(page.next_before)}`;
    }
    expect(pages.map((page) => page.length)).toEqual([3, 1]);
    expect(pages.flat()).toEqual(all.entries);
  });

  it('answers bad queries with 400 naming the field, and an unknown session with 404', async () => {
    const t = await setup();
    const bad = await t.app.request('/audit?since=yesterday&limit=5000');
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toMatchObject({
      code: 'invalid_request',
      details: expect.arrayContaining([
        expect.objectContaining({ path: 'since' }),
        expect.objectContaining({ path: 'limit' }),
      ]),
    });
    const unknown = await t.app.request('/audit?session_id=nobody');
    expect(unknown.status).toBe(404);
    expect((await unknown.json()).error.code).toBe('unknown_session');
  });
});

describe('the --audit-log file', { timeout: 60_000 }, () => {
  it('gets every entry as a JSON line, is readable by its owner alone, and holds no argument or env value', async () => {
    const path = join(await temporaryDirectory('audit-log-'), 'audit.jsonl');
    const t = await setup({}, { auditLog: path });
    const asked = await t.ask([count(argumentCanary)]);
    await t.decide({ request_id: asked.request_id, approve: true });
    const refused = await t.ask([count(`refused-${argumentCanary}`)]);
    await t.file?.close();

    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const text = await readFile(path, 'utf8');
    const lines = text.trimEnd().split('\n');
    expect(lines.map((line) => JSON.parse(line))).toEqual([
      expect.objectContaining({ request_id: asked.request_id, decision: 'approved', outcome: 'executed' }),
      expect.objectContaining({ request_id: refused.tool_calls[0].request_id, decision: 'denied' }),
    ]);
    expect((await t.audit()).entries).toHaveLength(2);
    const served = JSON.stringify(await t.audit());
    for (const canary of [argumentCanary, envCanary]) {
      expect(text).not.toContain(canary);
      expect(served).not.toContain(canary);
    }
  });

  it('makes an existing file its owner’s alone, and appends to it', async () => {
    const path = join(await temporaryDirectory('audit-log-'), 'audit.jsonl');
    await writeFile(path, '{"earlier":true}\n');
    await chmod(path, 0o644);
    const t = await setup({ autoApproveReadOnly: true }, { auditLog: path });
    await t.ask([{ name: 'read_only_echo', arguments: { text: 'x' } }]);
    await t.file?.close();
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const lines = (await readFile(path, 'utf8')).trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe('{"earlier":true}');
  });
});
