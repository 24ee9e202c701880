import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { validatingOnFirstUse } from '../../src/tools/mcp-protocol.js';
import type { ToolProvider } from '../../src/tools/tool-provider.js';
import { inMemoryProvider, unstopped } from './in-memory-servers.js';

const providers: ToolProvider[] = [];
afterEach(async () => {
  await Promise.all(providers.splice(0).map((provider) => provider.close()));
});

const countSchema = { type: 'object', properties: { count: { type: 'number' } }, required: ['count'] };
// Ajv cannot compile this one: its reference leads nowhere.
const brokenSchema = { type: 'object', properties: { count: { $ref: '#/definitions/missing' } } };

/** A server whose tools declare output schemas (`broken` too when asked); each returns `structuredContent` of `{ count }`. */
function serverWithOutputSchemas(count: unknown, withBroken: boolean) {
  const server = new McpServer({ name: 'output-schemas', version: '1.0.0' });
  server.server.registerCapabilities({ tools: {} });
  server.server.setRequestHandler(ListToolsRequestSchema, () => ({
    tools: [
      { name: 'counted', inputSchema: { type: 'object' as const }, outputSchema: countSchema },
      ...(withBroken ? [{ name: 'broken', inputSchema: { type: 'object' as const }, outputSchema: brokenSchema }] : []),
    ],
  }));
  server.server.setRequestHandler(CallToolRequestSchema, () => ({
    content: [{ type: 'text', text: `count ${count}` }],
    structuredContent: { count },
  }));
  return server;
}

const build = (count: unknown, withBroken = false) => {
  const built = inMemoryProvider({ build: () => serverWithOutputSchemas(count, withBroken) });
  providers.push(built.provider);
  return built;
};

describe("tools' output schemas", () => {
  it('a result that matches its output schema is the tool result', async () => {
    const { provider } = build(3);
    const counted = (await provider.list('/a')).find((tool) => tool.name === 'counted');
    expect(await provider.call('/a', counted!, {}, unstopped())).toEqual({ content: 'count 3', isError: false });
  });

  it('a result that does not match its output schema is an error result', async () => {
    const { provider } = build('three');
    const counted = (await provider.list('/a')).find((tool) => tool.name === 'counted');
    const result = await provider.call('/a', counted!, {}, unstopped());
    expect(result.isError).toBe(true);
    expect(result.content).toMatch(/^The tool call failed: .*does not match the tool's output schema/);
  });

  it('a schema that cannot be compiled fails only its own calls: the server and its other tools stay offered', async () => {
    const { provider } = build(3, true);
    const tools = await provider.list('/a');
    expect(tools.map((tool) => tool.name)).toEqual(['counted', 'broken']);
    expect(provider.status()).toEqual({ test: 'connected' });
    const broken = await provider.call('/a', tools[1], {}, unstopped());
    expect(broken.isError).toBe(true);
    expect(broken.content).toMatch(/^The tool call failed: .*Failed to validate structured content/);
    expect(await provider.call('/a', tools[0], {}, unstopped())).toEqual({ content: 'count 3', isError: false });
  });
});

describe('validatingOnFirstUse', () => {
  it('makes the validator and compiles a schema only when a result of it is first checked, once', () => {
    const compile = vi.fn((_schema: unknown) => (input: unknown) => ({
      valid: true as const,
      data: input,
      errorMessage: undefined,
    }));
    const create = vi.fn(() => ({ getValidator: compile }) as never);
    const validator = validatingOnFirstUse(create);
    const validate = validator.getValidator(countSchema as never);
    validator.getValidator(brokenSchema as never);
    expect(create).not.toHaveBeenCalled();
    expect(validate({ count: 1 }).valid).toBe(true);
    expect(validate({ count: 2 }).valid).toBe(true);
    expect(create).toHaveBeenCalledTimes(1);
    expect(compile.mock.calls).toEqual([[countSchema]]);
  });
});
