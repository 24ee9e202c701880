import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { ToolProvider } from '../../src/tools/tool-provider.js';
import { inMemoryProvider } from './in-memory-servers.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

/**
 * An HTTP server on 127.0.0.1 whose POST to `/sse` answers `postStatus`, and which otherwise speaks
 * the older HTTP+SSE transport (GET /sse, POST /messages). Records each request as "METHOD path".
 */
async function startSseOnlyServer(postStatus: number) {
  const requests: string[] = [];
  const transports = new Map<string, SSEServerTransport>();
  const http: Server = createServer(async (request, response) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    requests.push(`${request.method} ${url.pathname}`);
    if (request.method === 'GET' && url.pathname === '/sse') {
      const transport = new SSEServerTransport('/messages', response);
      transports.set(transport.sessionId, transport);
      const server = new McpServer({ name: 'sse-only', version: '1.0.0' });
      server.registerTool('legacy_echo', {}, async () => ({ content: [{ type: 'text', text: 'legacy' }] }));
      await server.connect(transport);
    } else if (request.method === 'POST' && url.pathname === '/messages') {
      await transports.get(url.searchParams.get('sessionId') ?? '')?.handlePostMessage(request, response);
    } else {
      response.writeHead(postStatus).end();
    }
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  closers.push(async () => {
    await Promise.allSettled([...transports.values()].map((transport) => transport.close()));
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/sse`, requests };
}

const build = (url: string) => {
  const built = inMemoryProvider({ entries: { legacy: { url } } });
  closers.push(() => built.provider.close());
  return built;
};
const names = (provider: ToolProvider) => provider.list('/a').then((tools) => tools.map((tool) => tool.name));

describe('HTTP MCP servers', () => {
  it('a server answering the Streamable HTTP POST with 405 is reached over the older HTTP+SSE', async () => {
    const server = await startSseOnlyServer(405);
    const { provider } = build(server.url);
    expect(await names(provider)).toEqual(['legacy_echo']);
    expect(server.requests.slice(0, 2)).toEqual(['POST /sse', 'GET /sse']);
  });

  it('a server failing with 500 is not tried over SSE: it is left out, with a warning', async () => {
    const server = await startSseOnlyServer(500);
    const { provider, warnings } = build(server.url);
    expect(await names(provider)).toEqual([]);
    expect(server.requests).toEqual(['POST /sse']);
    expect(warnings().at(-1)).toContain('MCP server "legacy" could not be started');
  });
});
