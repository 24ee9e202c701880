import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { faultServer, servers } from '../helpers/mcp-servers.js';
import { parseSse } from '../helpers/sse.js';
import { buildTestApp, closeToolProviders, temporaryDirectory } from '../helpers/test-app.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

const upstream = useFakeUpstream({ each: true });
afterAll(() => closeToolProviders());

/** An app with the fault server (its write_note writes files in the session's directory). */
async function setup(extra: Record<string, unknown> = {}, provider: 'ollama' | 'openai' = 'ollama') {
  const countFile = join(await temporaryDirectory('edit-'), 'count.txt');
  const built = await buildTestApp(
    upstream,
    { provider, approvalTimeout: 0 },
    { servers: servers({ fault: faultServer(countFile, extra) }) },
  );
  const ok = async (response: Response) => {
    expect(response.status, await response.clone().text()).toBe(200);
    return response.json() as Promise<any>;
  };
  const write = async (args: Record<string, unknown>) => {
    upstream.reply({ toolCalls: [{ name: 'write_note', arguments: args }] }, { text: ['Written.'] });
    return ok(await built.post('/user_request', { input: 'write a note' }));
  };
  const file = (path: string) => readFile(join(built.currentDirectory, path), 'utf8');
  const exists = (path: string) => existsSync(join(built.currentDirectory, path));
  return { ...built, ok, write, file, exists };
}

const lastMessage = () => upstream.chatRequests().at(-1)!.body.messages.at(-1);
const shown = { path: 'draft.txt', content: 'what the model wrote' };
const edited = { path: 'final.txt', content: 'what a person wrote' };

describe('edit and approve', { timeout: 60_000 }, () => {
  it.each(['ollama', 'openai'] as const)(
    'the tool gets the edited arguments; the model (%s) is told a person edited them and sees them',
    async (provider) => {
      const t = await setup({}, provider);
      const first = await t.write(shown);
      const body = await t.ok(
        await t.post('/approve', { request_id: first.request_id, approve: true, arguments: edited }),
      );
      expect(body).toMatchObject({ requires_approval: false, message: 'Written.' });
      expect(await t.file('final.txt')).toBe('what a person wrote');
      expect(t.exists('draft.txt')).toBe(false);
      expect(body.tool_calls).toEqual([
        expect.objectContaining({ status: 'executed', arguments: edited, original_arguments: shown }),
      ]);

      const told = lastMessage();
      expect(told.role).toBe('tool');
      expect(told.content).toContain('A person edited the arguments of this call before approving it');
      expect(told.content).toContain(JSON.stringify(edited));
      expect(told.content).toMatch(/wrote final\.txt$/);
      expect(body.tool_calls[0].result).toBe(told.content);
      // The model's own call stays in the history as it made it.
      const asked = upstream.chatRequests().at(-1)!.body.messages.at(-2);
      expect(JSON.stringify(asked.tool_calls)).toContain('draft.txt');

      const state = await t.ok(await t.app.request('/session_state'));
      expect(state.tool_calls).toEqual([
        expect.objectContaining({ status: 'executed', arguments: edited, original_arguments: shown }),
      ]);
    },
  );

  it('on a stream, tool_call shows the arguments the tool runs with', async () => {
    const t = await setup();
    const first = await t.write(shown);
    const response = await t.post('/approve', {
      request_id: first.request_id,
      approve: true,
      arguments: edited,
      stream: true,
    });
    const events = parseSse(await response.text());
    const started = events.find((event) => event.event === 'tool_call');
    expect(started?.data).toMatchObject({ tool: { name: 'write_note', arguments: edited }, approved_by: 'user' });
  });

  it('arguments that fail the input schema: 400 naming each field; nothing ran, and the call still waits', async () => {
    const t = await setup();
    const first = await t.write(shown);
    const response = await t.post('/approve', {
      request_id: first.request_id,
      approve: true,
      arguments: { path: 5 },
    });
    expect(response.status).toBe(400);
    const { error } = (await response.json()) as any;
    expect(error.code).toBe('invalid_request');
    expect(error.details).toEqual([
      { request_id: first.request_id, path: 'arguments.content', message: 'is required' },
      { request_id: first.request_id, path: 'arguments.path', message: 'must be string' },
    ]);
    expect(error.message).toContain('arguments.path: must be string');
    expect(t.exists('draft.txt')).toBe(false);
    expect(upstream.chatRequests()).toHaveLength(1);

    const state = await t.ok(await t.app.request('/session_state'));
    expect(state.pending_approvals).toEqual([
      expect.objectContaining({ request_id: first.request_id, tool: expect.objectContaining({ arguments: shown }) }),
    ]);
    await t.ok(await t.post('/approve', { request_id: first.request_id, approve: true }));
    expect(await t.file('draft.txt')).toBe('what the model wrote');
  });

  it('in a batch, a bad edit names decisions.N.arguments.… and no decision of the batch applies', async () => {
    const t = await setup();
    upstream.reply(
      {
        toolCalls: [
          { name: 'write_note', arguments: { path: 'a.txt', content: 'a' } },
          { name: 'write_note', arguments: { path: 'b.txt', content: 'b' } },
        ],
      },
      { text: ['Both.'] },
    );
    const first = await t.ok(await t.post('/user_request', { input: 'write two' }));
    const [one, two] = first.tool_calls.map((call: any) => call.request_id);
    const response = await t.post('/approve', {
      decisions: [
        { request_id: one, approve: true },
        { request_id: two, approve: true, arguments: { path: ['b.txt'], content: 'b' } },
      ],
    });
    expect(response.status).toBe(400);
    const { error } = (await response.json()) as any;
    expect(error.details).toEqual([{ request_id: two, path: 'decisions.1.arguments.path', message: 'must be string' }]);
    const state = await t.ok(await t.app.request('/session_state'));
    expect(state.pending_approvals.map((call: any) => call.request_id)).toEqual([one, two]);
  });

  it('a deny rule still denies: an edit that a deny rule matches is refused (400), and the call still waits', async () => {
    const t = await setup({ rules: [{ tool: '*', path: '**/.env', decision: 'deny' }] });
    const first = await t.write(shown);
    const response = await t.post('/approve', {
      request_id: first.request_id,
      approve: true,
      arguments: { path: 'config/.env', content: 'KEY=1' },
    });
    expect(response.status).toBe(400);
    const { error } = (await response.json()) as any;
    expect(error.details).toEqual([
      {
        request_id: first.request_id,
        path: 'arguments.path',
        message: 'are refused without asking: rules[0] of server "fault" (tool "*", path "**/.env") denies it',
      },
    ]);
    expect(t.exists('config/.env')).toBe(false);
    const state = await t.ok(await t.app.request('/session_state'));
    expect(state.status).toBe('awaiting_approval');
  });

  it('arguments with a denial: 400 naming the field', async () => {
    const t = await setup();
    const first = await t.write(shown);
    const response = await t.post('/approve', { request_id: first.request_id, approve: false, arguments: edited });
    expect(response.status).toBe(400);
    const { error } = (await response.json()) as any;
    expect(error.details).toEqual([{ path: 'arguments', message: 'may only be sent with "approve": true' }]);
  });

  it('{"arguments": "same"} with an edit grants the edited arguments, which later calls must match', async () => {
    const t = await setup();
    const first = await t.write(shown);
    await t.ok(
      await t.post('/approve', {
        request_id: first.request_id,
        approve: true,
        arguments: edited,
        remember: { for: 'session', arguments: 'same' },
      }),
    );
    expect((await t.write(edited)).tool_calls[0]).toMatchObject({ status: 'executed', decided_by: { kind: 'grant' } });
    expect((await t.write(shown)).requires_approval).toBe(true);
  });
});
