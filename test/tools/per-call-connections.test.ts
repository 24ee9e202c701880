import { afterEach, describe, expect, it } from 'vitest';
import type { ToolProvider } from '../../src/tools/tool-provider.js';
import { createTestServer, gate, inMemoryProvider, unstopped } from './in-memory-servers.js';

const providers: ToolProvider[] = [];
const build = (options: Parameters<typeof inMemoryProvider>[0] = {}) => {
  const built = inMemoryProvider({ reuseConnections: false, ...options });
  providers.push(built.provider);
  return built;
};
afterEach(async () => {
  await Promise.all(providers.splice(0).map((provider) => provider.close()));
});

describe('a connection per listing and per call (plain Workers)', () => {
  it('each listing and each call opens its own connection and closes it once done', async () => {
    const { provider, started } = build();
    expect(provider.status()).toEqual({ test: 'idle' });
    const echo = (await provider.list('/a')).find((tool) => tool.name === 'echo');
    if (!echo) throw new Error('no echo tool');
    expect(await provider.call('/a', echo, { text: 'hi' }, unstopped())).toEqual({ content: 'hi', isError: false });
    expect(started.map((server) => [server.spec.cwd, server.closed])).toEqual([
      ['/a', true],
      ['/a', true],
    ]);
    expect(provider.status()).toEqual({ test: 'connected' });
  });

  it("a server that cannot be reached is left out and its status is its latest outcome, 'failed'", async () => {
    const { provider, warnings } = build({
      build: () => {
        throw new Error('no such program');
      },
    });
    expect(await provider.list('/a')).toEqual([]);
    expect(provider.status()).toEqual({ test: 'failed' });
    expect(warnings().at(-1)).toContain('MCP server "test" could not be reached');
  });

  it('close() closes the connections still opening and those in use', async () => {
    const release = gate();
    const { provider, started, whenStarted } = build({
      held: (spec) => spec.cwd === '/opening',
      build: () => createTestServer({ release: release.opened }),
    });
    const wait = (await provider.list('/busy')).find((tool) => tool.name === 'wait');
    if (!wait) throw new Error('no wait tool');
    const running = provider.call('/busy', wait, {}, unstopped());
    const opening = provider.list('/opening');
    await whenStarted(3);

    await provider.close();
    expect(started.map((server) => server.closed)).toEqual([true, true, true]);
    expect(await opening).toEqual([]);
    expect((await running).isError).toBe(true);
  });
});
