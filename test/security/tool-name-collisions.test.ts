import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { parseStoredRecord } from '../../src/sessions/session-record.js';
import { offeredToolNames } from '../../src/tools/offered-tool-names.js';
import { servers } from '../helpers/mcp-servers.js';
import { buildTestApp, closeToolProviders, temporaryDirectory } from '../helpers/test-app.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

// A name offered to the model once named two tools: `a__x` was both server a's own tool `a__x` and
// the prefixed name of server a's `x` (which server b also has). The policy decided on the last
// tool of that name and execution ran the first, so a call approved by configuration ran another
// tool. Grants keyed `server/name` confused server "p" tool "q/r" with server "p/q" tool "r".

const namedToolsServer = fileURLToPath(new URL('./named-tools-server.mjs', import.meta.url));

const upstream = useFakeUpstream({ each: true });
afterAll(() => closeToolProviders());

async function setup(entries: Record<string, { tools: string[]; extra?: Record<string, unknown> }>) {
  const runFile = join(await temporaryDirectory('tool-names-'), 'runs.txt');
  const configured = Object.fromEntries(
    Object.entries(entries).map(([label, { tools, extra }]) => [
      label,
      {
        command: process.execPath,
        args: [namedToolsServer, label, tools.join(',')],
        env: { RUN_FILE: runFile },
        ...extra,
      },
    ]),
  );
  const built = await buildTestApp(upstream, {}, { servers: servers(configured) });
  const runs = async () => (await readFile(runFile, 'utf8').catch(() => '')).split('\n').filter(Boolean);
  const ok = async (response: Response) => {
    expect(response.status, await response.clone().text()).toBe(200);
    return response.json() as Promise<any>;
  };
  /** The names the model was offered in its latest request, by the identity each tool describes. */
  const offered = () => {
    const tools: any[] = upstream.chatRequests().at(-1)!.body.tools ?? [];
    return tools.map((tool) => ({ name: tool.function.name as string, identity: tool.function.description as string }));
  };
  return { ...built, runs, ok, offered };
}

it('every offered name is one tool; the call auto-approved by configuration runs exactly that tool', async () => {
  const { post, runs, ok, offered } = await setup({
    a: { tools: ['x', 'a__x'], extra: { autoApprove: ['a__x'] } },
    b: { tools: ['x'] },
  });
  upstream.reply({ toolCalls: [{ name: 'a__x', arguments: {} }] }, { text: ['Done.'] });
  const body = await ok(await post('/user_request', { input: 'run a__x' }));

  const names = offered().map((tool) => tool.name);
  expect(new Set(names).size).toBe(names.length);
  expect(offered()).toContainEqual({ name: 'a__x', identity: 'a:a__x' });
  expect(body.tool_calls).toMatchObject([{ name: 'a__x', server: 'a', status: 'executed', result: 'ran a:a__x' }]);
  expect(await runs()).toEqual(['a:a__x']);
});

it('a call a human approves runs exactly the tool shown in approval_required', async () => {
  const { post, runs, ok, offered } = await setup({
    a: { tools: ['x', 'a__x'] },
    b: { tools: ['x'] },
  });
  upstream.reply({ text: ['Listing.'] });
  await ok(await post('/user_request', { input: 'which tools?' }));
  const names = offered().map((tool) => tool.name);
  expect(new Set(names).size).toBe(names.length);
  expect(names).toHaveLength(3);

  for (const identity of ['a:x', 'a:a__x', 'b:x']) {
    const name = offered().find((tool) => tool.identity === identity)!.name;
    upstream.reply({ toolCalls: [{ name, arguments: {} }] }, { text: ['Done.'] });
    const asked = await ok(await post('/user_request', { input: `run ${identity}` }));
    expect(asked).toMatchObject({ requires_approval: true, tool: { name, server: identity.split(':')[0] } });
    const done = await ok(await post('/approve', { request_id: asked.request_id, approve: true }));
    expect(done.tool_calls).toMatchObject([{ name, status: 'executed', result: `ran ${identity}` }]);
    expect((await runs()).at(-1)).toBe(identity);
  }
  expect(await runs()).toEqual(['a:x', 'a:a__x', 'b:x']);
});

it('a session grant covers one server\'s tool only, whatever "/" the names hold', async () => {
  const { post, runs, ok } = await setup({
    p: { tools: ['q/r'] },
    'p/q': { tools: ['r'] },
  });
  upstream.reply({ toolCalls: [{ name: 'q/r', arguments: {} }] }, { text: ['Done.'] });
  const asked = await ok(await post('/user_request', { input: 'run q/r' }));
  await ok(await post('/approve', { request_id: asked.request_id, approve: true, remember: 'session' }));

  upstream.reply({ toolCalls: [{ name: 'r', arguments: {} }] }, { text: ['Done.'] });
  const other = await ok(await post('/user_request', { input: 'run r' }));
  expect(other).toMatchObject({ requires_approval: true, tool: { name: 'r', server: 'p/q' } });
  expect(await runs()).toEqual(['p:q/r']);

  upstream.reply({ toolCalls: [{ name: 'q/r', arguments: {} }] }, { text: ['Again.'] });
  await ok(await post('/approve', { request_id: other.request_id, approve: false }));
  const again = await ok(await post('/user_request', { input: 'run q/r again' }));
  expect(again.tool_calls).toMatchObject([{ name: 'q/r', server: 'p', status: 'executed' }]);
  expect(await runs()).toEqual(['p:q/r', 'p:q/r']);
});

it('a record saved before calls carried their identity still reads; its call does not run, its old grant does not apply', async () => {
  const { post, runs, ok, store } = await setup({ a: { tools: ['x'] } });
  const first = await ok(await post('/user_request', { input: 'hello' }));
  const saved = (await store.get(first.session_id))!;
  const { server_tool_name: _absentInOldRecords, ...legacy } = {
    request_id: 'old-call',
    call_id: 'c1',
    name: 'x',
    server: 'a',
    server_tool_name: 'x',
    arguments: {},
    status: 'pending' as const,
    closed: false,
  };
  const old = parseStoredRecord({
    ...saved,
    messages: [
      ...saved.messages,
      { role: 'assistant', content: '', tool_calls: [{ id: 'c1', name: 'x', arguments: {} }] },
    ],
    turn: { request_id: 'old-turn', sequence: 2, rounds: 1, usage: saved.usage, tool_calls: [legacy], message: '' },
    grants: ['a/x'],
  });
  expect(old.turn?.tool_calls[0]).not.toHaveProperty('server_tool_name');
  await store.put(old, { ttlMilliseconds: 60_000 });

  upstream.reply({ text: ['Understood.'] });
  const done = await ok(await post('/approve', { request_id: 'old-call', approve: true }));
  expect(done.tool_calls).toMatchObject([{ request_id: 'old-call', is_error: true }]);
  expect(await runs()).toEqual([]);

  upstream.reply({ toolCalls: [{ name: 'x', arguments: {} }] });
  expect(await ok(await post('/user_request', { input: 'run x' }))).toMatchObject({ requires_approval: true });
  expect(await runs()).toEqual([]);
});

it('offered names: a name one server has stays; shared ones are prefixed, then numbered past any taken name', () => {
  const tools = [
    { server: 'a', name: 'x' },
    { server: 'b', name: 'x' },
    { server: 'c', name: 'a__x' },
    { server: 'd', name: 'a__x_2' },
    { server: 'a', name: 'x' },
    { server: 'e', name: 'y' },
  ];
  expect(offeredToolNames(tools)).toEqual(['a__x_3', 'b__x', 'a__x', 'a__x_2', 'a__x_4', 'y']);
});
