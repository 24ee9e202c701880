import { existsSync } from 'node:fs';
import { mkdir, readFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { filesystemServer, servers } from '../helpers/mcp-servers.js';
import { parseSse } from '../helpers/sse.js';
import { buildTestApp, closeToolProviders, temporaryDirectory } from '../helpers/test-app.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

const upstream = useFakeUpstream({ each: true });
afterAll(() => closeToolProviders());

const rules = [
  { tool: 'write_file', path: 'docs/**', decision: 'allow' },
  { tool: '*', path: '**/.env', decision: 'deny' },
  { tool: 'write_file', path: 'docs/private/**', decision: 'ask' },
];
const byRule = (index: number) => ({
  kind: 'rule',
  server: 'files',
  index,
  rule: { tool: rules[index].tool, arguments: { path: rules[index].path }, decision: rules[index].decision },
});

/** The real filesystem server with the rules above, in a directory with docs/, docs/private/ and a link out of docs/. */
async function setup(config: Record<string, unknown> = {}) {
  const currentDirectory = await temporaryDirectory('rules-');
  await mkdir(join(currentDirectory, 'docs', 'private'), { recursive: true });
  await mkdir(join(currentDirectory, 'secret'));
  await symlink(join(currentDirectory, 'secret'), join(currentDirectory, 'docs', 'link'));
  const built = await buildTestApp(
    upstream,
    { currentDirectory, ...config },
    { servers: servers({ files: filesystemServer({ rules }) }) },
  );
  const ask = async (path: string) => {
    upstream.reply(
      { toolCalls: [{ name: 'write_file', arguments: { path, content: `text of ${path}` } }] },
      { text: ['Ok.'] },
    );
    const response = await built.post('/user_request', { input: `write ${path}` });
    expect(response.status, await response.clone().text()).toBe(200);
    return (await response.json()) as any;
  };
  const written = (path: string) => existsSync(join(currentDirectory, path));
  return { ...built, ask, written };
}

const lastToolMessage = () => upstream.chatRequests().at(-1)!.body.messages.at(-1);

describe('rules on arguments, with the real filesystem server', { timeout: 60_000 }, () => {
  it('an allow rule on docs/** runs write_file there without asking, and asks elsewhere', async () => {
    const t = await setup();
    const allowed = await t.ask('docs/guide.md');
    expect(allowed).toMatchObject({ requires_approval: false, message: 'Ok.' });
    expect(allowed.tool_calls).toEqual([expect.objectContaining({ status: 'executed', decided_by: byRule(0) })]);
    expect(await readFile(join(t.currentDirectory, 'docs', 'guide.md'), 'utf8')).toBe('text of docs/guide.md');

    const elsewhere = await t.ask('notes.txt');
    expect(elsewhere).toMatchObject({ requires_approval: true, tool: { name: 'write_file' } });
    expect(elsewhere.tool_calls[0].status).toBe('pending');
    expect(elsewhere.tool_calls[0]).not.toHaveProperty('decided_by');
    expect(t.written('notes.txt')).toBe(false);
  });

  it('`..`, a symlink out of docs/ and an absolute path outside are not docs/: they ask', async () => {
    const t = await setup();
    for (const path of ['docs/../escaped.txt', 'docs/link/key.txt', '/tmp/rules-outside.txt']) {
      const body = await t.ask(path);
      expect(body.requires_approval, path).toBe(true);
      const denied = await t.post('/approve', { request_id: body.request_id, approve: false });
      expect(denied.status).toBe(200);
    }
    expect(t.written('escaped.txt')).toBe(false);
    expect(t.written('secret/key.txt')).toBe(false);
    // An absolute path into docs/ is docs/.
    const absolute = await t.ask(join(t.currentDirectory, 'docs', 'abs.md'));
    expect(absolute.requires_approval).toBe(false);
    expect(t.written('docs/abs.md')).toBe(true);
  });

  it('a deny rule beats the allow rule: the call does not run, and the model is told which rule refused it', async () => {
    const t = await setup();
    const body = await t.ask('docs/.env');
    expect(body).toMatchObject({ requires_approval: false, message: 'Ok.' });
    expect(body.tool_calls).toEqual([
      expect.objectContaining({ status: 'denied', is_error: true, decided_by: byRule(1) }),
    ]);
    expect(t.written('docs/.env')).toBe(false);
    const told = lastToolMessage();
    expect(told.role).toBe('tool');
    expect(told.content).toContain('denied');
    expect(told.content).toContain('rules[1] of server "files" (tool "*", path "**/.env")');
  });

  it('an ask rule beats the allow rule: the call waits, and runs once approved', async () => {
    const t = await setup();
    const body = await t.ask('docs/private/plan.md');
    expect(body).toMatchObject({ requires_approval: true });
    expect(body.tool_calls[0]).toMatchObject({ status: 'pending', decided_by: byRule(2) });
    expect(t.written('docs/private/plan.md')).toBe(false);
    const approved = await (await t.post('/approve', { request_id: body.request_id, approve: true })).json();
    expect(approved.tool_calls[0]).toMatchObject({ status: 'executed', decided_by: byRule(2) });
    expect(t.written('docs/private/plan.md')).toBe(true);
  });

  it('/session_state shows what decided each call, after the turns ended too', async () => {
    const t = await setup();
    await t.ask('docs/a.md');
    await t.ask('.env');
    const waiting = await t.ask('docs/private/b.md');
    const state = await (await t.app.request('/session_state')).json();
    expect(state.tool_calls).toEqual([
      {
        request_id: expect.any(String),
        name: 'write_file',
        server: 'files',
        status: 'executed',
        decided_by: byRule(0),
      },
      { request_id: expect.any(String), name: 'write_file', server: 'files', status: 'denied', decided_by: byRule(1) },
      { request_id: waiting.request_id, name: 'write_file', server: 'files', status: 'pending', decided_by: byRule(2) },
    ]);
    expect(state.pending_approvals).toEqual([
      expect.objectContaining({ request_id: waiting.request_id, decided_by: byRule(2) }),
    ]);
  });

  it('on a stream, approval_required and tool_call name the deciding rule', async () => {
    const t = await setup({ approvalTimeout: 0 });
    upstream.reply(
      {
        toolCalls: [
          { name: 'write_file', arguments: { path: 'docs/s.md', content: 's' } },
          { name: 'write_file', arguments: { path: 'docs/private/s.md', content: 's' } },
        ],
      },
      { text: ['Ok.'] },
    );
    const response = await t.post('/user_request', { input: 'write both', stream: true });
    const events = parseSse(await response.text());
    const asked = events.find((event) => event.event === 'approval_required');
    expect(asked?.data).toMatchObject({ tool: { arguments: { path: 'docs/private/s.md' } }, decided_by: byRule(2) });
    const approval = await t.post('/approve', { request_id: asked?.data.request_id, approve: true, stream: true });
    const continued = parseSse(await approval.text());
    const started = continued.filter((event) => event.event === 'tool_call').map((event) => event.data);
    expect(started).toEqual([
      expect.objectContaining({ approved_by: 'policy', decided_by: byRule(0) }),
      expect.objectContaining({ approved_by: 'user', decided_by: byRule(2) }),
    ]);
  });
});
