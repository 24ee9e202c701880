import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { faultServer } from '../helpers/mcp-servers.js';
import { startServer, temporaryDataDirectory } from '../helpers/server-process.js';
import { openStream, parseSse } from '../helpers/sse.js';
import { temporaryDirectory } from '../helpers/test-app.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

// The same server under Bun (src/entry/bun.ts): chat, an approval, a stream.
const upstream = useFakeUpstream();
let server: Awaited<ReturnType<typeof startServer>>;
let countFile: string;

beforeAll(async () => {
  const cwd = await temporaryDirectory();
  countFile = join(cwd, 'count.txt');
  await writeFile(join(cwd, 'servers.json'), JSON.stringify({ mcpServers: { fault: faultServer(countFile) } }));
  server = await startServer(
    ['--provider', 'openai', '--openai-base-url', upstream.openaiUrl, '--servers-config', 'servers.json'],
    { cwd, runtime: 'bun' },
  );
});
afterAll(() => server?.stop());

/** The labels the counting tool ran with, one per run, in this file's shared count file. */
const counted = async () => (await readFile(countFile, 'utf8')).split('\n').filter(Boolean);

const post = (path: string, body: unknown) =>
  fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

describe('the server on Bun', () => {
  it('says it runs on Bun, and answers a chat in JSON', async () => {
    expect(server.output()).toContain('"runtime":"bun"');
    upstream.reply({ text: ['Hello ', 'from Bun'] });
    const response = await post('/user_request', { input: 'hi' });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ message: 'Hello from Bun', requires_approval: false });
    expect(upstream.chatRequests().at(-1)?.body).toMatchObject({ stream: true, messages: expect.any(Array) });
  });

  it('asks before a tool runs, and runs it once approved', async () => {
    upstream.reply({ toolCalls: [{ name: 'count', arguments: { label: 'bun' } }] }, { text: ['Counted.'] });
    const first = await (await post('/user_request', { input: 'count' })).json();
    expect(first).toMatchObject({ requires_approval: true, tool: { name: 'count', server: 'fault' } });
    const done = await (await post('/approve', { request_id: first.request_id, approve: true })).json();
    expect(done).toMatchObject({ message: 'Counted.', tool_calls: [{ status: 'executed' }] });
    expect((await counted()).filter((label) => label === 'bun')).toEqual(['bun']);
  });

  it('streams, and delivers an approval made on another connection to the open stream', async () => {
    upstream.reply({ toolCalls: [{ name: 'count', arguments: { label: 'stream' } }] }, { text: ['Streamed.'] });
    const stream = openStream(await post('/user_request', { input: 'count', stream: true }));
    const head = parseSse(await stream.until((text) => text.includes('event: approval_required')));
    const approval = head.find((event) => event.event === 'approval_required');
    const decision = await post('/approve', { request_id: approval?.data.request_id, approve: true });
    expect(decision.status).toBe(202);
    const rest = parseSse(await stream.rest());
    expect(rest.map((event) => event.event)).toEqual(['tool_call', 'tool_result', 'token', 'done']);
    expect(rest.at(-1)?.data.message).toBe('Streamed.');
    expect((await counted()).filter((label) => label === 'stream')).toEqual(['stream']);
  });
});

describe('the session database on Bun', () => {
  it('keeps a session and the default across a crash (SIGKILL) and a restart', async () => {
    const cwd = await temporaryDirectory();
    const args = ['--ollama-base-url', upstream.url, '--data-dir', temporaryDataDirectory()];
    const first = await startServer(args, { cwd, runtime: 'bun' });
    let sessionId: string;
    try {
      const started = await fetch(`${first.url}/start_session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ temperature: 0.4 }),
      });
      sessionId = (await started.json()).session_id;
      expect(first.output()).toContain('sessions: SQLite database');
    } finally {
      await first.kill();
    }
    const second = await startServer(args, { cwd, runtime: 'bun' });
    try {
      expect(await (await fetch(`${second.url}/session_state?session_id=${sessionId}`)).json()).toMatchObject({
        session_id: sessionId,
        temperature: 0.4,
      });
      expect((await (await fetch(`${second.url}/session_state`)).json()).session_id).toBe(sessionId);
    } finally {
      await second.stop();
    }
  }, 60_000);
});
