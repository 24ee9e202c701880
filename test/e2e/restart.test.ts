import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { restartedToolText } from '../../src/chat/recover-turn.js';
import { maxUnsavedEvents } from '../../src/chat/turn-channels.js';
import { createHold } from '../helpers/fake-upstream.js';
import { faultServer } from '../helpers/mcp-servers.js';
import { startServer } from '../helpers/server-process.js';
import { openStream, parseSse } from '../helpers/sse.js';
import { temporaryDirectory } from '../helpers/test-app.js';
import { untilLine } from '../helpers/until-line.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

// The real server on its default store (SQLite in --data-dir), killed with SIGKILL in the middle of
// things and started again on the same data directory, on Node and on Bun.
const upstream = useFakeUpstream({ each: true });

async function restartable(runtime: 'node' | 'bun') {
  const cwd = await temporaryDirectory('restart-');
  const dataDirectory = join(cwd, 'data');
  const countFile = join(cwd, 'count.txt');
  await writeFile(join(cwd, 'servers.json'), JSON.stringify({ mcpServers: { fault: faultServer(countFile) } }));
  const start = () =>
    startServer(
      [
        '--ollama-base-url',
        upstream.url,
        '--servers-config',
        'servers.json',
        '--data-dir',
        dataDirectory,
        '--sessions-per-minute',
        '0',
      ],
      { cwd, runtime },
    );
  let server = await start();
  const post = (path: string, body: unknown) =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${server.url}${path}`, { headers });
  const counted = async () => (await readFile(countFile, 'utf8').catch(() => '')).split('\n').filter(Boolean);
  return {
    countFile,
    post,
    get,
    counted,
    /** SIGKILL, then a new server on the same data directory. */
    async restart() {
      await server.kill();
      server = await start();
    },
    stop: () => server.stop(),
  };
}

describe.each(['node', 'bun'] as const)(
  'a restart in the middle of anything, on %s',
  { timeout: 120_000 },
  (runtime) => {
    it('a pending approval is still listed, is approved exactly once, and the turn continues', async () => {
      const t = await restartable(runtime);
      try {
        upstream.reply({ toolCalls: [{ name: 'count', arguments: { label: 'after-restart' } }] });
        const asked = (await (await t.post('/user_request', { input: 'count' })).json()) as any;
        expect(asked).toMatchObject({ requires_approval: true, tool: { name: 'count' } });
        const defaultId = asked.session_id;

        await t.restart();
        const state = (await (await t.get('/session_state')).json()) as any;
        expect(state).toMatchObject({
          session_id: defaultId,
          status: 'awaiting_approval',
          pending_approvals: [{ request_id: asked.request_id, tool: { name: 'count' } }],
        });
        upstream.reply({ text: ['Counted after the restart.'] });
        const approved = await t.post('/approve', { request_id: asked.request_id, approve: true });
        expect(approved.status).toBe(200);
        expect(await approved.json()).toMatchObject({
          message: 'Counted after the restart.',
          tool_calls: [{ request_id: asked.request_id, status: 'executed' }],
        });
        const again = await t.post('/approve', { request_id: asked.request_id, approve: true });
        expect(again.status).toBe(409);
        expect(((await again.json()) as any).error.code).toBe('already_decided');
        expect(await t.counted()).toEqual(['after-restart']);
      } finally {
        await t.stop();
      }
    });

    it('a streaming turn keeps its partial answer; a resume gets the events up to the kill, then interrupted', async () => {
      const t = await restartable(runtime);
      try {
        // More tokens than may wait unsaved: the first ones are in the log when the client has them all.
        const words = Array.from({ length: maxUnsavedEvents + 20 }, (_, index) => `w${index} `);
        const hold = createHold(words.length);
        upstream.reply({ text: [...words, 'never sent'], holds: [hold] });
        const stream = openStream(await t.post('/user_request', { input: 'talk', stream: true }));
        const lastWord = words.at(-1) as string;
        const seen = parseSse(await stream.until((text) => text.includes(JSON.stringify(lastWord)), 15_000));
        const lastId = seen.at(-1)?.id as string;
        const sessionId = seen[0].data.session_id;

        await t.restart();
        const resumed = await t.get(`/events?session_id=${sessionId}`, { 'last-event-id': lastId });
        expect(resumed.status).toBe(200);
        const replay = parseSse(await resumed.text());
        expect(replay.map((event) => event.event)).toEqual(['error']);
        expect(replay[0].data.error.code).toBe('interrupted');
        // From an earlier id, the logged tokens come first, then the same end.
        const early = await t.get(`/events?session_id=${sessionId}`, { 'last-event-id': seen[1].id });
        const earlyEvents = parseSse(await early.text());
        expect(earlyEvents.at(-1)).toMatchObject({ event: 'error', id: replay[0].id });
        expect(earlyEvents.slice(0, 3).map((event) => event.data.content)).toEqual(['w1 ', 'w2 ', 'w3 ']);

        const state = (await (await t.get(`/session_state?session_id=${sessionId}`)).json()) as any;
        expect(state.status).toBe('idle');
        const answer = state.messages.at(-1);
        expect(answer.role).toBe('assistant');
        expect(answer.content.startsWith(words.slice(0, maxUnsavedEvents).join(''))).toBe(true);
        expect(answer.content).toContain('[interrupted');
        upstream.reply({ text: ['Usable again.'] });
        const next = await t.post('/user_request', { input: 'again', session_id: sessionId });
        expect(await next.json()).toMatchObject({ message: 'Usable again.' });
      } finally {
        await t.stop();
      }
    });

    it('a tool running when killed is failed, never re-run, and the model is told on the next turn', async () => {
      const t = await restartable(runtime);
      try {
        upstream.reply({ toolCalls: [{ name: 'hang', arguments: {} }] });
        const asked = (await (await t.post('/user_request', { input: 'hang' })).json()) as any;
        const approving = t.post('/approve', { request_id: asked.request_id, approve: true }).catch(() => undefined);
        await untilLine(t.countFile, 'hang-start');

        await t.restart();
        await approving;
        const state = (await (await t.get('/session_state')).json()) as any;
        expect(state.status).toBe('idle');
        expect(state.messages.at(-1)).toMatchObject({ role: 'tool', content: restartedToolText });
        upstream.reply({ text: ['Checked.'] });
        expect(await (await t.post('/user_request', { input: 'did it run?' })).json()).toMatchObject({
          message: 'Checked.',
        });
        const sent = upstream.chatRequests().at(-1)?.body.messages as any[];
        expect(sent.some((message) => message.role === 'tool' && message.content === restartedToolText)).toBe(true);
        expect((await t.counted()).filter((line) => line === 'hang-start')).toHaveLength(1);
      } finally {
        await t.stop();
      }
    });
  },
);
