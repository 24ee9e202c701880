import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { AppConfig } from '../../src/app.js';
import type { RecordedRequest } from '../helpers/fake-upstream.js';
import { startFaultHttpServer } from '../helpers/mcp-fault-server.js';
import { everythingServer, faultServer, servers } from '../helpers/mcp-servers.js';
import { buildTestApp, closeToolProviders, projectDirectory, temporaryDirectory } from '../helpers/test-app.js';
import { linesOf, untilLine } from '../helpers/until-line.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

const upstream = useFakeUpstream();
afterAll(() => closeToolProviders());

const build = (entries: Record<string, unknown>, overrides: Partial<AppConfig> = {}) =>
  buildTestApp(upstream, overrides, { servers: servers(entries) });

/** The tool names offered to the model in one recorded (Ollama) chat request. */
const offered = (request: RecordedRequest | undefined): string[] =>
  (request?.body.tools ?? []).map((tool: { function: { name: string } }) => tool.function.name);

/** The tool result messages of one recorded chat request. */
const toolMessages = (request: RecordedRequest | undefined): Array<{ role: string; content: string }> =>
  (request?.body.messages ?? []).filter((message: { role: string }) => message.role === 'tool');

const lastRequest = () => upstream.chatRequests().at(-1);

const countFileIn = async (name = 'count.txt') => join(await temporaryDirectory('mcp-count-'), name);

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** server-everything over Streamable HTTP, in its own process; resolves once it listens. */
async function startEverythingOverHttp() {
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    [join(projectDirectory, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js'), 'streamableHttp'],
    { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.resume();
  await new Promise<void>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`server-everything did not start:\n${output}`)), 15_000);
    child.stderr?.on('data', (chunk) => {
      output += chunk;
      if (/listening/i.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => reject(new Error(`server-everything exited with ${code}:\n${output}`)));
  });
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** How a test reaches each of our two MCP servers over one transport (servers.json entries). */
interface Transport {
  name: string;
  /** Starts what the transport needs for the file's tests; returns how to stop it. */
  setup(): Promise<() => Promise<void>>;
  everything(extra: Record<string, unknown>): Record<string, unknown>;
  /** Our fault server, recording in `countFile` (over HTTP, a server of its own for the test). */
  faults(countFile: string, extra: Record<string, unknown>): Promise<Record<string, unknown>>;
}

const stdio: Transport = {
  name: 'stdio',
  setup: async () => async () => {},
  everything: (extra) => everythingServer(extra),
  faults: async (countFile, extra) => faultServer(countFile, extra),
};

let everythingUrl = '';
const streamableHttp: Transport = {
  name: 'Streamable HTTP on 127.0.0.1',
  async setup() {
    const everything = await startEverythingOverHttp();
    everythingUrl = everything.url;
    return () => everything.stop();
  },
  everything: (extra) => ({ url: everythingUrl, ...extra }),
  async faults(countFile, extra) {
    const server = await startFaultHttpServer({ countFile });
    onTestFinished(() => server.close());
    return { url: server.url, ...extra };
  },
};

type StateMessage = {
  role: string;
  content: string;
  tool_calls?: Array<{ id: string; name: string }>;
  tool_call_id?: string;
};

/** Every assistant tool call in the history is followed by a tool result for it. */
function expectEveryCallAnswered(messages: StateMessage[]) {
  messages.forEach((message, index) => {
    if (message.role !== 'assistant' || !message.tool_calls?.length) return;
    const results = messages.slice(index + 1).filter((later) => later.role === 'tool');
    for (const call of message.tool_calls) {
      expect(results.some((result) => result.tool_call_id === call.id)).toBe(true);
    }
  });
}

describe.each([stdio, streamableHttp])('MCP servers over $name', (transport) => {
  beforeAll(async () => {
    const stop = await transport.setup();
    return async () => {
      await closeToolProviders();
      await stop();
    };
  });

  it('server-everything: its tools are offered and an auto-approved echo result reaches the model', async () => {
    const { post } = await build({ everything: transport.everything({ autoApprove: ['echo'] }) });
    const before = upstream.chatRequests().length;
    upstream.reply(
      { text: ['Echoing.'], toolCalls: [{ name: 'echo', arguments: { message: `hello over ${transport.name}` } }] },
      { text: ['It said hello.'] },
    );
    const response = await post('/user_request', { input: 'echo something' });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      requires_approval: false,
      message: 'It said hello.',
      tool_calls: [{ name: 'echo', server: 'everything', status: 'executed', is_error: false }],
    });
    const requests = upstream.chatRequests().slice(before);
    expect(requests).toHaveLength(2);
    expect(offered(requests[0])).toEqual(expect.arrayContaining(['echo', 'get-sum']));
    expect(toolMessages(requests[1]).at(-1)?.content).toContain(`Echo: hello over ${transport.name}`);
  });

  it('our fault server: count runs once and its result reaches the model', async () => {
    const countFile = await countFileIn();
    const { post } = await build({ faults: await transport.faults(countFile, { autoApprove: ['count'] }) });
    const before = upstream.chatRequests().length;
    upstream.reply({ toolCalls: [{ name: 'count', arguments: { label: 'counted-once' } }] }, { text: ['Counted.'] });
    const response = await post('/user_request', { input: 'count' });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      requires_approval: false,
      message: 'Counted.',
      tool_calls: [{ name: 'count', server: 'faults', status: 'executed', is_error: false }],
    });
    const requests = upstream.chatRequests().slice(before);
    expect(offered(requests[0])).toEqual(expect.arrayContaining(['count', 'slow', 'hang']));
    expect(toolMessages(requests[1]).at(-1)?.content).toBe('counted');
    expect(await linesOf(countFile)).toEqual(['counted-once']);
  });

  it('hang with timeout: 1: the call is cancelled and the model gets an error saying the tool did not answer in time', async () => {
    const countFile = await countFileIn();
    const { post } = await build({ faults: await transport.faults(countFile, { autoApprove: ['hang'], timeout: 1 }) });
    upstream.reply({ toolCalls: [{ name: 'hang', arguments: {} }] }, { text: ['It timed out.'] });
    const response = await post('/user_request', { input: 'hang' });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      message: 'It timed out.',
      tool_calls: [{ name: 'hang', is_error: true }],
    });
    expect(toolMessages(lastRequest()).at(-1)?.content).toMatch(/did not answer within 1\s?s/);
    // The server was told to give up, and did.
    expect(await untilLine(countFile, 'hang-stopped')).toEqual(['hang-start', 'cancelled', 'hang-stopped']);
  });

  it('big (5 MB) with maxToolResultChars 1000: the model gets ~1000 characters and a truncation notice', async () => {
    const countFile = await countFileIn();
    const { post } = await build(
      { faults: await transport.faults(countFile, { autoApprove: ['big'] }) },
      { maxToolResultChars: 1000 },
    );
    upstream.reply({ toolCalls: [{ name: 'big', arguments: {} }] }, { text: ['That was big.'] });
    const response = await post('/user_request', { input: 'big' });
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body).toMatchObject({ message: 'That was big.', tool_calls: [{ name: 'big', is_error: false }] });
    const content = toolMessages(lastRequest()).at(-1)?.content ?? '';
    expect(content.startsWith('x'.repeat(1000))).toBe(true);
    expect(content.startsWith('x'.repeat(1001))).toBe(false);
    expect(content.length).toBeLessThan(1300);
    expect(content).toMatch(/truncated/i);
    expect(content).toContain(String(5 * 1024 * 1024));
    expect(body.tool_calls[0].result.length).toBeLessThan(1300);
  });

  it('POST /stop during a slow tool: the server is sent notifications/cancelled and stops; the turn answers stopped; the history stays valid', async () => {
    const countFile = await countFileIn();
    // A call timeout (which would also cancel the call) and a call that both outlast the test: only the stop ends it.
    const { app, post } = await build({
      faults: await transport.faults(countFile, { autoApprove: ['slow'], timeout: 600 }),
    });
    expect((await post('/start_session', {})).status).toBe(201);
    upstream.reply({ text: ['Working on it.'], toolCalls: [{ name: 'slow', arguments: { ms: 600_000 } }] });
    const pending = post('/user_request', { input: 'be slow' });
    await untilLine(countFile, 'slow-start');

    const stop = await post('/stop', {});
    expect(stop.status).toBe(200);
    expect(await stop.json()).toEqual({ stopped: true });

    const response = await pending;
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body).toMatchObject({
      stopped: true,
      requires_approval: false,
      tool_calls: [{ name: 'slow', is_error: true }],
    });
    expect(body.tool_calls[0].result).toContain('stopped by user');
    // Started, told to stop over the wire, stopped: never done.
    expect(await untilLine(countFile, 'slow-stopped')).toEqual(['slow-start', 'cancelled', 'slow-stopped']);

    const state = await (await app.request('/session_state')).json();
    expect(state.status).toBe('idle');
    expect(state.pending_approvals).toEqual([]);
    expectEveryCallAnswered(state.messages);
    expect(state.messages.at(-1)).toMatchObject({ role: 'tool' });
    expect(state.messages.at(-1).content).toContain('stopped by user');

    const again = await post('/stop', {});
    expect(again.status).toBe(409);
    expect((await again.json()).error.code).toBe('no_turn_running');
  });
});

describe('faults of a stdio server', () => {
  it('exit_mid_call: the call fails at once with a tool error, and the server restarts on next use', async () => {
    const countFile = await countFileIn();
    const { post } = await build({ faults: faultServer(countFile, { autoApprove: ['exit_mid_call', 'count'] }) });
    upstream.reply({ toolCalls: [{ name: 'exit_mid_call', arguments: {} }] }, { text: ['The server died.'] });
    const response = await post('/user_request', { input: 'crash it' });
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body).toMatchObject({
      requires_approval: false,
      message: 'The server died.',
      tool_calls: [{ name: 'exit_mid_call', is_error: true }],
    });
    // The exit itself failed the call, not the test app's 10 s call timeout.
    const result = toolMessages(lastRequest()).at(-1);
    expect(result?.content).toMatch(/exited/);
    expect(result?.content).not.toMatch(/did not answer/);
    expect(await linesOf(countFile)).toEqual(['exit']);

    upstream.reply({ toolCalls: [{ name: 'count', arguments: {} }] }, { text: ['Counted.'] });
    const again = await post('/user_request', { input: 'count now' });
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({
      message: 'Counted.',
      tool_calls: [{ name: 'count', status: 'executed', is_error: false }],
    });
    expect(toolMessages(lastRequest()).at(-1)?.content).toBe('counted');
    expect(await linesOf(countFile)).toEqual(['exit', 'run']);
  });
});

describe('POST /stop', () => {
  it('denies a call awaiting approval with "stopped by user"; the tool never runs', async () => {
    const countFile = await countFileIn();
    const { app, post } = await build({ faults: faultServer(countFile) });
    upstream.reply({ toolCalls: [{ name: 'count', arguments: {} }] });
    const first = await (await post('/user_request', { input: 'count' })).json();
    expect(first).toMatchObject({ requires_approval: true, tool: { name: 'count', server: 'faults' } });

    const stop = await post('/stop', {});
    expect(stop.status).toBe(200);
    expect(await stop.json()).toEqual({ stopped: true });

    const state = await (await app.request('/session_state')).json();
    expect(state.status).toBe('idle');
    expect(state.pending_approvals).toEqual([]);
    expectEveryCallAnswered(state.messages);
    const result = state.messages.at(-1);
    expect(result.role).toBe('tool');
    expect(result.content).toContain('denied');
    expect(result.content).toContain('stopped by user');

    const late = await post('/approve', { request_id: first.request_id, approve: true });
    expect(late.status).toBe(409);
    expect(existsSync(countFile)).toBe(false);
  });

  it('answers 409 no_turn_running when no turn runs', async () => {
    const { post } = await buildTestApp(upstream);
    const response = await post('/stop', {});
    expect(response.status).toBe(409);
    expect((await response.json()).error.code).toBe('no_turn_running');
  });
});

describe('which tools are offered', () => {
  it('prefixes server__tool where two servers share a name, and runs only the named server', async () => {
    const countOne = await countFileIn('one.txt');
    const countTwo = await countFileIn('two.txt');
    const { post } = await build({
      one: faultServer(countOne, { autoApprove: ['count'] }),
      two: faultServer(countTwo, { allowedTools: ['count'], autoApprove: ['count'] }),
    });
    const before = upstream.chatRequests().length;
    upstream.reply({ toolCalls: [{ name: 'two__count', arguments: { label: 'two' } }] }, { text: ['Counted.'] });
    const response = await post('/user_request', { input: 'count on two' });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      message: 'Counted.',
      tool_calls: [{ name: 'two__count', server: 'two', status: 'executed', is_error: false }],
    });
    const names = offered(upstream.chatRequests()[before]);
    expect(names).toEqual(expect.arrayContaining(['one__count', 'two__count', 'write_note', 'big', 'slow']));
    expect(names).not.toContain('count');
    expect(names).not.toContain('one__big');
    expect(new Set(names).size).toBe(names.length);
    expect(toolMessages(lastRequest()).at(-1)?.content).toBe('counted');
    expect(await linesOf(countTwo)).toEqual(['two']);
    expect(existsSync(countOne)).toBe(false);
  });

  it('allowedTools: only those tools are offered', async () => {
    const countFile = await countFileIn();
    const { post } = await build({ faults: faultServer(countFile, { allowedTools: ['count', 'big'] }) });
    upstream.reply({ text: ['Nothing to do.'] });
    expect((await post('/user_request', { input: 'hi' })).status).toBe(200);
    expect(offered(lastRequest()).sort()).toEqual(['big', 'count']);
  });

  it('excludedTools: those tools are not offered, and a call of one runs nothing', async () => {
    const countFile = await countFileIn();
    const { post } = await build({
      faults: faultServer(countFile, { excludedTools: ['count', 'hang', 'exit_mid_call'], autoApprove: ['count'] }),
    });
    const before = upstream.chatRequests().length;
    upstream.reply({ toolCalls: [{ name: 'count', arguments: {} }] }, { text: ['Could not.'] });
    const response = await post('/user_request', { input: 'count' });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      message: 'Could not.',
      tool_calls: [{ name: 'count', is_error: true }],
    });
    const names = offered(upstream.chatRequests()[before]);
    expect(names).toEqual(expect.arrayContaining(['slow', 'big', 'write_note']));
    for (const excluded of ['count', 'hang', 'exit_mid_call']) expect(names).not.toContain(excluded);
    expect(toolMessages(lastRequest()).at(-1)?.content).toMatch(/unknown tool/i);
    expect(existsSync(countFile)).toBe(false);
  });

  it('notifications/tools/list_changed: a tool added mid-turn is offered in the next model request', async () => {
    const countFile = await countFileIn();
    const { app, post } = await build({ faults: faultServer(countFile, { autoApprove: ['add_tool'] }) });
    const before = upstream.chatRequests().length;
    upstream.reply({ toolCalls: [{ name: 'add_tool', arguments: {} }] }, { text: ['Added.'] });
    const response = await post('/user_request', { input: 'add a tool' });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      message: 'Added.',
      tool_calls: [{ name: 'add_tool', is_error: false }],
    });
    const requests = upstream.chatRequests().slice(before);
    expect(requests).toHaveLength(2);
    expect(offered(requests[0])).not.toContain('late_tool');
    expect(toolMessages(requests[1]).at(-1)?.content).toBe('added');
    // The model was offered it in the very request that followed the call...
    expect(offered(requests[1])).toContain('late_tool');
    // ...so the session's tools know it by the time the turn has answered.
    const state = await (await app.request('/session_state')).json();
    expect(state.tools.map((tool: { name: string }) => tool.name)).toContain('late_tool');
  });
});

describe("the session's current_directory", () => {
  it('is the stdio server cwd: write_note with a relative path lands in the session directory', async () => {
    const countFile = await countFileIn();
    const { post, currentDirectory } = await build({ faults: faultServer(countFile, { autoApprove: ['write_note'] }) });
    const sub = join(currentDirectory, 'sub');
    await mkdir(sub);
    const started = await post('/start_session', { current_directory: 'sub' });
    expect(started.status).toBe(201);
    const session = await started.json();
    expect(session.current_directory).toBe(sub);

    upstream.reply(
      { toolCalls: [{ name: 'write_note', arguments: { path: 'note.txt', content: 'in sub' } }] },
      { text: ['Written.'] },
    );
    const response = await post('/user_request', { input: 'write a note', session_id: session.session_id });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      message: 'Written.',
      tool_calls: [{ name: 'write_note', status: 'executed', is_error: false }],
    });
    expect(await readFile(join(sub, 'note.txt'), 'utf8')).toBe('in sub');
    expect(existsSync(join(currentDirectory, 'note.txt'))).toBe(false);
  });
});

describe('MCP roots', () => {
  it("each server is given the session's directory as its root", async () => {
    const { post, currentDirectory } = await build({
      everything: everythingServer({ autoApprove: ['get-roots-list'] }),
    });
    const sub = join(currentDirectory, 'project dir');
    await mkdir(sub);
    const session = await (await post('/start_session', { current_directory: 'project dir' })).json();
    upstream.reply({ toolCalls: [{ name: 'get-roots-list', arguments: {} }] }, { text: ['Listed.'] });
    const response = await post('/user_request', { input: 'roots?', session_id: session.session_id });
    expect(response.status).toBe(200);
    const result = toolMessages(upstream.chatRequests().at(-1)!).at(-1)?.content;
    expect(result).toContain(pathToFileURL(sub).href);
  });
});
