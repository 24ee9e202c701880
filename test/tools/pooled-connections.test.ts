import { afterEach, describe, expect, it } from 'vitest';
import type { ToolProvider } from '../../src/tools/tool-provider.js';
import { createTestServer, gate, inMemoryProvider, unstopped } from './in-memory-servers.js';

const providers: ToolProvider[] = [];
const build = (options: Parameters<typeof inMemoryProvider>[0] = {}) => {
  const built = inMemoryProvider(options);
  providers.push(built.provider);
  return built;
};
afterEach(async () => {
  await Promise.all(providers.splice(0).map((provider) => provider.close()));
});

const names = (tools: Array<{ name: string }>) => tools.map((tool) => tool.name).sort();
const toolNamed = async (provider: ToolProvider, directory: string, name: string) => {
  const tool = (await provider.list(directory)).find((candidate) => candidate.name === name);
  if (!tool) throw new Error(`no tool ${name} in ${directory}`);
  return tool;
};

describe('the connection pool', () => {
  it('keeps one connection per server and directory, for later listings and calls, rooted in the directory', async () => {
    const { provider, started } = build();
    expect(names(await provider.list('/work/a'))).toContain('echo');
    const echo = await toolNamed(provider, '/work/a', 'echo');
    expect(await provider.call('/work/a', echo, { text: 'hi' }, unstopped())).toEqual({
      content: 'hi',
      isError: false,
    });
    expect(started).toHaveLength(1);
    expect(started[0].spec).toMatchObject({ command: 'test-server', cwd: '/work/a' });
    expect((await started[0].server.server.listRoots()).roots).toEqual([{ uri: 'file:///work/a', name: 'a' }]);

    await provider.list('/work/b');
    expect(started.map((server) => server.spec.cwd)).toEqual(['/work/a', '/work/b']);
    expect(provider.status()).toEqual({ test: 'connected' });
  });

  it('at the cap, closes the least recently used idle connection to make room', async () => {
    const { provider, started } = build({ maxConnections: 2 });
    await provider.list('/a');
    await provider.list('/b');
    await provider.list('/a');
    await provider.list('/c');
    expect(started.map((server) => [server.spec.cwd, server.closed])).toEqual([
      ['/a', false],
      ['/b', true],
      ['/c', false],
    ]);
  });

  it('never evicts a connection still opening: with every slot busy the server is left out, with a warning', async () => {
    const { provider, started, whenStarted, warnings } = build({
      maxConnections: 1,
      held: (spec) => spec.cwd === '/opening',
    });
    const opening = provider.list('/opening');
    await whenStarted(1);

    expect(await provider.list('/other')).toEqual([]);
    expect(started).toHaveLength(1);
    expect(warnings().at(-1)).toContain('MCP server "test" is left out for /other: all 1 MCP connections are in use');

    await started[0].connect();
    expect(names(await opening)).toContain('echo');
    expect(started[0].closed).toBe(false);
  });

  it('never evicts a connection with a call in flight; a call with no free slot is an error result and runs nothing', async () => {
    const release = gate();
    const { provider, started } = build({
      maxConnections: 1,
      build: () => createTestServer({ release: release.opened }),
    });
    const wait = await toolNamed(provider, '/busy', 'wait');
    const running = provider.call('/busy', wait, {}, unstopped());

    expect(await provider.list('/other')).toEqual([]);
    expect(await provider.call('/other', wait, {}, unstopped())).toEqual({
      content: 'The MCP server "test" has no free connection (all are busy); the tool did not run. Try again later.',
      isError: true,
    });
    expect(started).toHaveLength(1);

    release.open();
    expect(await running).toEqual({ content: 'waited', isError: false });
    expect(names(await provider.list('/other'))).toContain('wait');
    expect(started.map((server) => [server.spec.cwd, server.closed])).toEqual([
      ['/busy', true],
      ['/other', false],
    ]);
  });

  it('close() closes every connection, also one still opening, whose listing leaves the server out', async () => {
    const { provider, started, whenStarted } = build({ held: (spec) => spec.cwd === '/opening' });
    await provider.list('/open');
    const opening = provider.list('/opening');
    await whenStarted(2);

    await provider.close();
    expect(started.map((server) => server.closed)).toEqual([true, true]);
    expect(await opening).toEqual([]);
    expect(await provider.list('/open')).toEqual([]);
    expect(started).toHaveLength(2);
  });

  it('restarts a server that ended its connection on next use after the backoff; a listing in it offers its tools', async () => {
    let time = 1_000;
    const { provider, started, warnings } = build({ now: () => time });
    const echo = await toolNamed(provider, '/a', 'echo');
    await started[0].server.close();
    expect(warnings().at(-1)).toContain('MCP server "test" closed its connection; it restarts on next use.');

    time += 249;
    expect(names(await provider.list('/a'))).toContain('echo');
    expect(started).toHaveLength(1);
    expect(provider.status()).toEqual({ test: 'failed' });

    time += 1;
    expect(await provider.call('/a', echo, { text: 'back' }, unstopped())).toEqual({ content: 'back', isError: false });
    expect(started).toHaveLength(2);
    expect(provider.status()).toEqual({ test: 'connected' });
  });

  it('a server that cannot be started is left out of listings, a call of it runs nothing, and status says failed', async () => {
    let time = 1_000;
    const { provider, warnings } = build({
      now: () => time,
      build: () => {
        throw new Error('no such program');
      },
    });
    const { provider: working } = build();
    const echo = await toolNamed(working, '/a', 'echo');
    expect(await provider.list('/a')).toEqual([]);
    expect(provider.status()).toEqual({ test: 'failed' });
    expect(warnings().at(-1)).toContain('MCP server "test" could not be started');
    time += 250;
    expect(await provider.call('/a', echo, { text: 'x' }, unstopped())).toEqual({
      content: 'The MCP server "test" could not be started; the tool did not run.',
      isError: true,
    });
  });

  it('after notifications/tools/list_changed, the next listing waits for the new tools', async () => {
    const { provider } = build();
    const addTool = await toolNamed(provider, '/a', 'add_tool');
    expect(names(await provider.list('/a'))).not.toContain('late_tool');
    await provider.call('/a', addTool, {}, unstopped());
    expect(names(await provider.list('/a'))).toContain('late_tool');
  });
});
