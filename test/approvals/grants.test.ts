import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/clock.js';
import { createManualClock } from '../helpers/manual-clock.js';
import { changingServer, faultServer, servers } from '../helpers/mcp-servers.js';
import { parseSse } from '../helpers/sse.js';
import { buildTestApp, closeToolProviders, temporaryDirectory } from '../helpers/test-app.js';
import { linesOf } from '../helpers/until-line.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

const upstream = useFakeUpstream({ each: true });
afterAll(() => closeToolProviders());

/** An app with one MCP server, `entry` (given the file it records runs in), on `clock`; streams do not wait on approvals. */
async function setup(entry: (runFile: string) => Record<string, unknown>, clock?: Clock) {
  const runFile = join(await temporaryDirectory('grants-'), 'runs.txt');
  const built = await buildTestApp(
    upstream,
    { approvalTimeout: 0 },
    { servers: servers(entry(runFile)), dependencies: { clock } },
  );
  const ok = async (response: Response) => {
    expect(response.status, await response.clone().text()).toBe(200);
    return response.json() as Promise<any>;
  };
  /** A turn in which the model makes `call`, then answers "Done.". */
  const turn = async (call: { name: string; arguments: Record<string, unknown> }) => {
    upstream.reply({ toolCalls: [call] }, { text: ['Done.'] });
    return ok(await built.post('/user_request', { input: `call ${call.name}` }));
  };
  const approve = async (body: Record<string, unknown>) => ok(await built.post('/approve', body));
  const state = async () => ok(await built.app.request('/session_state'));
  return { ...built, runFile, runs: () => linesOf(runFile), turn, approve, state };
}

const count = (label: string) => ({ name: 'count', arguments: { label } });

describe('grants with a scope and a time', { timeout: 60_000 }, () => {
  it('{"for": "10m"}: later calls of the tool run without asking until ten minutes after the approval', async () => {
    const clock = createManualClock();
    const t = await setup((runFile) => ({ fault: faultServer(runFile) }), clock);
    const granted = clock.now();
    const first = await t.turn(count('one'));
    expect(first.requires_approval).toBe(true);
    const approved = await t.approve({ request_id: first.request_id, approve: true, remember: { for: '10m' } });
    expect(approved).toMatchObject({ requires_approval: false, message: 'Done.' });

    await clock.advance(10 * 60_000 - 1);
    const inside = await t.turn(count('two'));
    expect(inside).toMatchObject({ requires_approval: false, message: 'Done.' });
    const byGrant = {
      kind: 'grant',
      server: 'fault',
      tool: 'count',
      for: '10m',
      arguments: 'any',
      request_id: first.request_id,
      granted_at: new Date(granted).toISOString(),
      expires_at: new Date(granted + 10 * 60_000).toISOString(),
    };
    expect(inside.tool_calls).toEqual([expect.objectContaining({ status: 'executed', decided_by: byGrant })]);
    expect((await t.state()).grants).toEqual([byGrant]);

    await clock.advance(1);
    const after = await t.turn(count('three'));
    expect(after).toMatchObject({ requires_approval: true, tool: { name: 'count', arguments: { label: 'three' } } });
    expect(after.tool_calls[0]).not.toHaveProperty('decided_by');
    expect(await t.runs()).toEqual(['one', 'two']);
    expect((await t.state()).grants).toEqual([]);
  });

  it('{"for": "session", "arguments": "same"}: only calls with identical arguments (keys in any order) run', async () => {
    const t = await setup((runFile) => ({ fault: faultServer(runFile) }));
    const note = { path: 'a.txt', content: 'same text' };
    const first = await t.turn({ name: 'write_note', arguments: note });
    await t.approve({ request_id: first.request_id, approve: true, remember: { for: 'session', arguments: 'same' } });

    const again = await t.turn({ name: 'write_note', arguments: { content: 'same text', path: 'a.txt' } });
    expect(again).toMatchObject({ requires_approval: false, message: 'Done.' });
    expect(again.tool_calls[0].decided_by).toMatchObject({
      kind: 'grant',
      for: 'session',
      arguments: 'same',
      request_id: first.request_id,
    });
    expect(again.tool_calls[0].decided_by).not.toHaveProperty('expires_at');

    const other = await t.turn({ name: 'write_note', arguments: { path: 'a.txt', content: 'other text' } });
    expect(other).toMatchObject({ requires_approval: true, tool: { name: 'write_note' } });
    await t.approve({ request_id: other.request_id, approve: false });
    const more = await t.turn({ name: 'write_note', arguments: { ...note, mode: 'append' } });
    expect(more.requires_approval).toBe(true);
  });

  it('"session" and "call" keep their meaning: a session grant covers any arguments, "call" nothing more', async () => {
    const t = await setup((runFile) => ({ fault: faultServer(runFile) }));
    const first = await t.turn(count('one'));
    await t.approve({ request_id: first.request_id, approve: true, remember: 'call' });
    const second = await t.turn(count('two'));
    expect(second.requires_approval).toBe(true);
    await t.approve({ request_id: second.request_id, approve: true, remember: 'session' });
    const third = await t.turn(count('three'));
    expect(third.tool_calls[0]).toMatchObject({
      status: 'executed',
      decided_by: { kind: 'grant', for: 'session', arguments: 'any', request_id: second.request_id },
    });
    expect(await t.runs()).toEqual(['one', 'two', 'three']);
  });

  it('a grant ends when the tool changes its input schema or annotations (tools/list_changed), not its description', async () => {
    const t = await setup((runFile) => ({
      deployer: changingServer(runFile, { autoApprove: ['change_schema', 'change_annotations', 'change_description'] }),
    }));
    const deploy = (target: string) => ({ name: 'deploy', arguments: { target } });
    const first = await t.turn(deploy('one'));
    await t.approve({ request_id: first.request_id, approve: true, remember: 'session' });
    expect((await t.turn(deploy('two'))).tool_calls[0]).toMatchObject({
      status: 'executed',
      decided_by: { kind: 'grant' },
    });

    await t.turn({ name: 'change_description', arguments: {} });
    expect((await t.turn(deploy('three'))).tool_calls[0]).toMatchObject({ status: 'executed' });

    expect((await t.state()).grants).toHaveLength(1);
    await t.turn({ name: 'change_schema', arguments: {} });
    expect((await t.state()).grants).toEqual([]);
    const changed = await t.turn(deploy('four'));
    expect(changed).toMatchObject({ requires_approval: true, tool: { name: 'deploy', arguments: { target: 'four' } } });
    expect(changed.tool_calls[0]).not.toHaveProperty('decided_by');
    await t.approve({ request_id: changed.request_id, approve: true, remember: { for: '1h' } });
    expect((await t.turn(deploy('five'))).tool_calls[0]).toMatchObject({ status: 'executed' });

    await t.turn({ name: 'change_annotations', arguments: {} });
    expect((await t.turn(deploy('six'))).requires_approval).toBe(true);
    expect(await t.runs()).toEqual(['deploy one', 'deploy two', 'deploy three', 'deploy four', 'deploy five']);
  });

  it('approval_required and pending_approvals say what each choice of remember would cover', async () => {
    const t = await setup((runFile) => ({
      fault: faultServer(runFile, { rules: [{ tool: 'write_note', path: 'private/**', decision: 'ask' }] }),
    }));
    upstream.reply({ toolCalls: [count('streamed')] });
    const response = await t.post('/user_request', { input: 'count', stream: true });
    const asked = parseSse(await response.text()).find((event) => event.event === 'approval_required');
    const grants = asked?.data.grants;
    expect(grants.map((option: any) => option.remember)).toEqual([
      'once',
      { for: '10m' },
      'session',
      { for: 'session', arguments: 'same' },
    ]);
    expect(grants[0].covers).toBe('this call only');
    expect(grants[1].covers).toContain('later calls of "count" on server "fault" with any arguments, for 10 minutes');
    expect(grants[3].covers).toContain('with exactly these arguments, for the rest of the session');
    expect((await t.state()).pending_approvals[0].grants).toEqual(grants);
    await t.approve({ request_id: asked?.data.request_id, approve: false });

    // A call an `ask` rule made ask: the rule asks again whatever is granted, and the options say so.
    const asking = await t.turn({ name: 'write_note', arguments: { path: 'private/a.txt', content: 'x' } });
    const options = (await t.state()).pending_approvals[0].grants;
    expect(options[2].covers).toContain(
      'calls that rules[0] of server "fault" (tool "write_note", path "private/**") matches still ask',
    );
    await t.approve({ request_id: asking.request_id, approve: true, remember: 'session' });
    expect(
      (await t.turn({ name: 'write_note', arguments: { path: 'private/b.txt', content: 'y' } })).requires_approval,
    ).toBe(true);
  });

  it('a record with grants of the old form still reads; they ask again and are dropped at the next step', async () => {
    const t = await setup((runFile) => ({ fault: faultServer(runFile) }));
    const first = await t.turn(count('one'));
    await t.approve({ request_id: first.request_id, approve: true });
    const saved = (await t.store.get(first.session_id))!;
    await t.store.put(
      { ...saved, grants: [JSON.stringify(['fault', 'count']), 'fault/count'] },
      { ttlMilliseconds: 60_000 },
    );
    expect((await t.state()).grants).toEqual([]);
    expect((await t.turn(count('two'))).requires_approval).toBe(true);
    expect((await t.store.get(first.session_id))!.grants).toEqual([]);
  });
});
