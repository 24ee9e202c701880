import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { createLogger } from '../../src/logger.js';
import type { StdioServerSpec } from '../../src/tools/connect-transport.js';
import { createMcpToolProvider, type McpToolProviderOptions } from '../../src/tools/mcp-tool-provider.js';
import { parseServersConfig } from '../../src/tools/servers-config.js';

/** One server the provider "started": a real `McpServer` in this process, on an in-memory pair. */
export interface StartedServer {
  spec: StdioServerSpec;
  server: McpServer;
  /** Whether its end of the pair has closed. */
  closed: boolean;
  /** Connects the server; until then the client's `initialize` waits (the connection is opening). */
  connect(): Promise<void>;
}

const text = (value: string): CallToolResult => ({ content: [{ type: 'text', text: value }] });

/** A gate a tool waits on until the test opens it. */
export function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

export interface TestServerOptions {
  /** `wait` answers once this settles. */
  release?: Promise<void>;
  /** Called when a `hang` call is cancelled by the client. */
  onCancelled?: () => void;
}

/**
 * An `McpServer` with a few tools: `echo`; `fail` (an error result); `hang`, which sends one
 * progress notification and never answers; `exit`, which closes the server mid-call; `wait`, which answers
 * once `release` settles; and `add_tool`, which registers `late_tool` (sending tools/list_changed).
 */
export function createTestServer(options: TestServerOptions = {}): McpServer {
  const server = new McpServer({ name: 'in-memory-test-server', version: '1.0.0' });
  server.registerTool('echo', { inputSchema: { text: z.string() } }, async (args) => text(args.text));
  server.registerTool('fail', {}, async () => ({ isError: true, content: [{ type: 'text', text: 'it failed' }] }));
  server.registerTool('hang', {}, async (extra) => {
    const progressToken = extra._meta?.progressToken;
    if (progressToken !== undefined) {
      await extra.sendNotification({ method: 'notifications/progress', params: { progressToken, progress: 1 } });
    }
    return new Promise<CallToolResult>((_resolve, reject) => {
      const cancelled = () => {
        options.onCancelled?.();
        reject(extra.signal.reason);
      };
      if (extra.signal.aborted) cancelled();
      else extra.signal.addEventListener('abort', cancelled);
    });
  });
  server.registerTool('exit', {}, async () => {
    void server.close();
    return new Promise<CallToolResult>(() => {});
  });
  server.registerTool('wait', {}, async () => {
    await options.release;
    return text('waited');
  });
  server.registerTool('add_tool', {}, async () => {
    server.registerTool('late_tool', {}, async () => text('late'));
    return text('added');
  });
  return server;
}

export interface InMemoryProviderOptions extends Partial<McpToolProviderOptions> {
  /** The servers.json entries (default: one stdio server "test"). */
  entries?: Record<string, unknown>;
  /** Builds each started server (default `createTestServer()`). */
  build?: (spec: StdioServerSpec) => McpServer;
  /** Directories whose servers wait for `connect()` before answering. */
  held?: (spec: StdioServerSpec) => boolean;
}

/**
 * A tool provider whose stdio servers are real `McpServer`s on in-memory pairs, with the log lines
 * and every server it started.
 */
export function inMemoryProvider(options: InMemoryProviderOptions = {}) {
  const { entries, build, held, ...overrides } = options;
  const started: StartedServer[] = [];
  const waiting: Array<{ count: number; resolve: () => void }> = [];
  /** Resolves once `count` servers have been started. */
  const whenStarted = (count: number) =>
    new Promise<void>((resolve) => {
      if (started.length >= count) resolve();
      else waiting.push({ count, resolve });
    });
  const lines: string[] = [];
  const provider = createMcpToolProvider({
    servers: parseServersConfig(
      JSON.stringify({ mcpServers: entries ?? { test: { command: 'test-server' } } }),
      'servers.json',
    ),
    variables: {},
    logger: createLogger({ level: 'debug', write: (line) => lines.push(line) }),
    version: '0.0.0-test',
    startStdio: (spec) => {
      const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
      const server = build?.(spec) ?? createTestServer();
      const record: StartedServer = { spec, server, closed: false, connect: () => server.connect(serverTransport) };
      serverTransport.onclose = () => {
        record.closed = true;
      };
      started.push(record);
      for (const waiter of waiting) if (started.length >= waiter.count) waiter.resolve();
      if (!held?.(spec)) void record.connect();
      return clientTransport;
    },
    ...overrides,
  });
  const warnings = () => lines.filter((line) => line.includes(' WARN '));
  return { provider, started, whenStarted, lines, warnings };
}

/** The options of a call that nobody stops. */
export const unstopped = () => ({ signal: new AbortController().signal });
