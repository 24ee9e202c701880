import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { restartedToolText } from '../../src/chat/recover-turn.js';
import type { SessionStore } from '../../src/store/session-store.js';
import { faultServer, servers } from '../helpers/mcp-servers.js';
import { buildTestApp, closeToolProviders, temporaryDirectory } from '../helpers/test-app.js';
import { untilLine } from '../helpers/until-line.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

// Two runs of the server on one store, in one process: the first one's turn is cut off (it stays
// stuck where the test holds it, as a killed process would), and the second finds the session.
// The real restart, SIGKILL and a SQLite file, is in test/e2e/restart.test.ts.

const upstream = useFakeUpstream({ each: true });
afterAll(async () => {
  await closeToolProviders();
});

async function twoRuns() {
  const directory = await temporaryDirectory('recover-');
  const countFile = join(directory, 'count.txt');
  const tools = { servers: servers({ fault: faultServer(countFile) }) };
  const first = await buildTestApp(
    upstream,
    { currentDirectory: directory },
    {
      ...tools,
      dependencies: { recoverInterruptedTurns: true, runner: 'first' },
    },
  );
  const restart = (store: SessionStore = first.store) =>
    buildTestApp(
      upstream,
      { currentDirectory: directory },
      {
        ...tools,
        dependencies: { store, recoverInterruptedTurns: true, runner: 'second' },
      },
    );
  const counted = async () => (await readFile(countFile, 'utf8').catch(() => '')).split('\n').filter(Boolean);
  return { first, restart, countFile, counted };
}

describe('a turn cut off by a restart', () => {
  it('a tool that was running is failed, never run again, and the model is told on the next turn', async () => {
    const { first, restart, countFile, counted } = await twoRuns();
    upstream.reply({ toolCalls: [{ name: 'hang', arguments: {} }] });
    const asked = (await (await first.post('/user_request', { input: 'hang' })).json()) as any;
    expect(asked).toMatchObject({ requires_approval: true, tool: { name: 'hang' } });
    // Approved: the tool starts and never answers; the first run is now "killed" mid-call.
    const stuck = first.post('/approve', { request_id: asked.request_id, approve: true });
    await untilLine(countFile, 'hang-start');

    const second = await restart();
    const state = (await (await second.app.request('/session_state')).json()) as any;
    expect(state).toMatchObject({ status: 'idle', pending_approvals: [] });
    const toolMessage = state.messages.find((message: any) => message.role === 'tool');
    expect(toolMessage).toMatchObject({ content: restartedToolText });

    upstream.reply({ text: ['I will check before retrying.'] });
    const next = (await (await second.post('/user_request', { input: 'did it work?' })).json()) as any;
    expect(next).toMatchObject({ requires_approval: false, message: 'I will check before retrying.' });
    const sent = upstream.chatRequests().at(-1)?.body.messages as any[];
    expect(sent.find((message) => message.role === 'tool')?.content).toBe(restartedToolText);
    expect((await counted()).filter((line) => line === 'hang-start')).toHaveLength(1);

    // The cut-off run, if it ever wakes, cannot write over what the new run saved.
    await first.post('/stop', {});
    expect((await stuck).status).toBe(200);
    const after = (await (await second.app.request('/session_state')).json()) as any;
    expect(after.messages.map((message: any) => message.content)).toContain('I will check before retrying.');
  });

  it('a pending approval survives, and is decided exactly once across both runs', async () => {
    const { first, restart, counted } = await twoRuns();
    upstream.reply({ toolCalls: [{ name: 'count', arguments: { label: 'once' } }] }, { text: ['Counted.'] });
    const asked = (await (await first.post('/user_request', { input: 'count' })).json()) as any;
    expect(asked.requires_approval).toBe(true);

    const second = await restart();
    const state = (await (await second.app.request('/session_state')).json()) as any;
    expect(state).toMatchObject({
      status: 'awaiting_approval',
      pending_approvals: [{ request_id: asked.request_id, tool: { name: 'count', arguments: { label: 'once' } } }],
    });

    const [fromFirst, fromSecond] = await Promise.all([
      first.post('/approve', { request_id: asked.request_id, approve: true }),
      second.post('/approve', { request_id: asked.request_id, approve: true }),
    ]);
    const statuses = [fromFirst.status, fromSecond.status].sort();
    expect(statuses).toEqual([200, 409]);
    const loser = [fromFirst, fromSecond].find((response) => response.status === 409) as Response;
    expect(((await loser.json()) as any).error.code).toBe('already_decided');
    expect(await counted()).toEqual(['once']);
  });
});
