import { CallToolRequestSchema, ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { ToolProvider } from '../../src/tools/tool-provider.js';
import { createTestServer, gate, inMemoryProvider, unstopped } from './in-memory-servers.js';

const providers: ToolProvider[] = [];
afterEach(async () => {
  await Promise.all(providers.splice(0).map((provider) => provider.close()));
});

let cancelled = gate();
const build = (options: Parameters<typeof inMemoryProvider>[0] = {}) => {
  cancelled = gate();
  const built = inMemoryProvider({ build: () => createTestServer({ onCancelled: cancelled.open }), ...options });
  providers.push(built.provider);
  return built;
};

const toolNamed = async (provider: ToolProvider, name: string) => {
  const tool = (await provider.list('/a')).find((candidate) => candidate.name === name);
  if (!tool) throw new Error(`no tool ${name}`);
  return tool;
};

describe('a tool call and its failures, as results the model reads', () => {
  it("a tool's own error result stays an error result with its text", async () => {
    const { provider } = build();
    expect(await provider.call('/a', await toolNamed(provider, 'fail'), {}, unstopped())).toEqual({
      content: 'it failed',
      isError: true,
    });
  });

  it('a JSON-RPC error answering the call becomes "The tool call failed" with its message', async () => {
    const { provider } = build({
      build: () => {
        const server = createTestServer();
        server.server.setRequestHandler(CallToolRequestSchema, () => {
          throw new McpError(ErrorCode.InternalError, 'the server broke');
        });
        return server;
      },
    });
    const result = await provider.call('/a', await toolNamed(provider, 'echo'), { text: 'x' }, unstopped());
    expect(result.isError).toBe(true);
    expect(result.content).toMatch(/^The tool call failed: .*the server broke/);
  });

  it('no answer within the timeout: the call is cancelled at the server and the model is told', async () => {
    const { provider } = build({ defaultCallTimeout: 50 });
    const hang = await toolNamed(provider, 'hang');
    expect(await provider.call('/a', hang, {}, unstopped())).toEqual({
      content: 'The tool did not answer within 0.05s and was cancelled.',
      isError: true,
    });
    await cancelled.opened;
  });

  it('the server ending the connection mid-call: an error result saying it exited', async () => {
    const { provider } = build();
    expect(await provider.call('/a', await toolNamed(provider, 'exit'), {}, unstopped())).toEqual({
      content: 'The MCP server "test" exited during the call; it restarts on next use.',
      isError: true,
    });
  });

  it('an abort rejects with its reason, and the server is told to cancel; progress reaches the caller', async () => {
    const { provider } = build();
    const hang = await toolNamed(provider, 'hang');
    const controller = new AbortController();
    const reason = new Error('stopped by user');
    const progress: number[] = [];
    const call = provider.call(
      '/a',
      hang,
      {},
      {
        signal: controller.signal,
        onProgress: (update) => {
          progress.push(update.progress);
          controller.abort(reason);
        },
      },
    );
    await expect(call).rejects.toBe(reason);
    expect(progress).toEqual([1]);
    await cancelled.opened;
  });

  it('a tool of a server not configured (or disabled) runs nothing', async () => {
    const { provider, started } = build({ entries: { test: { command: 'x' }, off: { command: 'y', disabled: true } } });
    const echo = await toolNamed(provider, 'echo');
    expect(await provider.call('/a', { ...echo, server: 'off' }, { text: 'x' }, unstopped())).toEqual({
      content: 'The MCP server "off" could not be started; the tool did not run.',
      isError: true,
    });
    expect(started).toHaveLength(1);
  });
});
