import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  type CallToolResult,
  ErrorCode,
  ListRootsRequestSchema,
  McpError,
  type Tool,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../logger.js';
import { deliverResponsesAfterNotifications, fileUri, listAllTools } from './mcp-protocol.js';
import { configuredRule, isOffered, resolveServer, type ServerConfig, type ServersConfig } from './servers-config.js';
import type { ServerStatus, ToolInfo, ToolProvider } from './tool-provider.js';
import { toolResultText } from './tool-result-text.js';

export interface StdioServerSpec {
  command: string;
  args: string[];
  env: Record<string, string>;
  /** The session's working directory. */
  cwd: string;
}

export interface McpToolProviderOptions {
  servers: ServersConfig;
  /** Values for `${NAME}` substitution (the process environment, plus e.g. CONFIG_DIR). */
  variables: Record<string, string | undefined>;
  /** Starts a stdio server. Absent where processes cannot be started (Workers): stdio servers are disabled. */
  startStdio?: (spec: StdioServerSpec) => Transport;
  logger: Logger;
  version: string;
  /** Per-call timeout where a server sets none (milliseconds). */
  defaultCallTimeout?: number;
  /**
   * Whether a connection may serve later requests (default true). Workers cannot use an I/O object
   * across requests, so there every listing and every call opens its own connection and closes it.
   */
  reuseConnections?: boolean;
}

interface Connection {
  client?: Client;
  connecting?: Promise<Client>;
  tools: Tool[];
  /** A re-listing after `notifications/tools/list_changed`, which `list` waits for. */
  refreshing?: Promise<void>;
  /** Calls in flight: a connection with calls is never evicted. */
  calls: number;
  lastUsed: number;
  failures: number;
  retryAt: number;
}

const backoff = (failures: number) => Math.min(250 * 2 ** (failures - 1), 10_000);

const sleep = (milliseconds: number) => new Promise<void>((resolve) => setTimeout(resolve, milliseconds));

/** Working directories with a live connection per server; the least recently used idle one goes. */
const maxDirectories = 16;

/** Tools of the MCP servers in servers.json, one client connection per server and working directory. */
export function createMcpToolProvider(options: McpToolProviderOptions): ToolProvider {
  const { logger } = options;
  const connections = new Map<string, Connection>();
  const enabled = Object.entries(options.servers).filter(
    ([, server]) => !server.disabled && !(server.command && !options.startStdio),
  );
  const skipped = Object.entries(options.servers).filter(
    ([, server]) => !server.disabled && server.command && !options.startStdio,
  );
  if (skipped.length > 0) {
    const names = skipped.map(([name]) => `"${name}"`).join(', ');
    logger.warn(
      `MCP servers ${names} use stdio, which this runtime cannot start: they are disabled. Use a "url" server here.`,
    );
  }

  async function open(name: string, server: ServerConfig, directory: string, connection: Connection): Promise<Client> {
    const resolved = resolveServer(server, { ...options.variables, CURRENT_DIRECTORY: directory });
    const client = new Client(
      { name: 'llm-chat-server', version: options.version },
      { capabilities: { roots: { listChanged: true } } },
    );
    // Our own handler rather than the SDK's debounced one, so the next `list` can wait for the
    // fresh tools: a tool added during a call is offered in the very next model request.
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      const refresh = listAllTools(client)
        .then((tools) => {
          connection.tools = tools;
        })
        .catch((error) => logger.warn(`MCP server "${name}": re-listing tools failed`, { error: String(error) }))
        .finally(() => {
          if (connection.refreshing === refresh) connection.refreshing = undefined;
        });
      connection.refreshing = refresh;
    });
    client.setRequestHandler(ListRootsRequestSchema, async () => ({
      roots: [{ uri: fileUri(directory), name: directory.split('/').filter(Boolean).pop() ?? directory }],
    }));
    let transport: Transport;
    if (resolved.command && options.startStdio) {
      transport = options.startStdio({
        command: resolved.command,
        args: resolved.args,
        env: resolved.env,
        cwd: directory,
      });
      await client.connect(transport);
    } else {
      const url = new URL(resolved.url ?? '');
      const requestInit = { headers: resolved.headers };
      try {
        transport = new StreamableHTTPClientTransport(url, { requestInit });
        await client.connect(transport);
      } catch {
        logger.debug(`MCP server "${name}": Streamable HTTP failed, trying SSE`);
        transport = new SSEClientTransport(url, { requestInit });
        await client.connect(transport);
      }
    }
    deliverResponsesAfterNotifications(transport);
    try {
      connection.tools = await listAllTools(client);
    } catch (error) {
      await client.close().catch(() => {});
      throw error;
    }
    client.onclose = () => {
      if (connection.client !== client) return;
      connection.client = undefined;
      connection.failures += 1;
      connection.retryAt = Date.now() + backoff(connection.failures);
      logger.warn(`MCP server "${name}" closed its connection; it restarts on next use.`);
    };
    return client;
  }

  /** Closes the least recently used idle connection of `name` beyond the cap of directories. */
  const evict = (name: string) => {
    const mine = [...connections].filter(
      ([key, connection]) => key.startsWith(`${name}\u0000`) && connection.calls === 0,
    );
    if (mine.length < maxDirectories) return;
    const [key, oldest] = mine.reduce((least, entry) => (entry[1].lastUsed < least[1].lastUsed ? entry : least));
    connections.delete(key);
    void oldest.client?.close().catch(() => {});
  };

  /**
   * The server's connection for `directory`, started if needed. A server in its restart backoff is
   * waited for only when `wait` (a call), not when listing: a failing server must not slow every step.
   */
  async function connect(name: string, directory: string, wait: boolean): Promise<Connection> {
    const key = `${name}\u0000${directory}`;
    let connection = connections.get(key);
    if (!connection) {
      evict(name);
      connection = { tools: [], failures: 0, retryAt: 0, calls: 0, lastUsed: 0 };
      connections.set(key, connection);
    }
    connection.lastUsed = Date.now();
    if (connection.client) return connection;
    const delay = connection.retryAt - Date.now();
    // Listing during a restart backoff offers the tools the server had: a call waits for it.
    if (delay > 0 && !wait && !connection.connecting) return connection;
    if (!connection.connecting) {
      const current = connection;
      const server = options.servers[name];
      current.connecting = (async () => {
        if (delay > 0) await sleep(delay);
        try {
          const client = await open(name, server, directory, current);
          current.client = client;
          return client;
        } catch (error) {
          current.failures += 1;
          current.retryAt = Date.now() + backoff(current.failures);
          logger.warn(`MCP server "${name}" could not be started`, { error: String(error) });
          throw error;
        } finally {
          current.connecting = undefined;
        }
      })();
    }
    await connection.connecting;
    return connection;
  }

  const reuse = options.reuseConnections ?? true;
  /** Without reuse, how each server's latest connection went, for `status`. */
  const outcomes = new Map<string, ServerStatus>();
  /** A connection to use now: the shared one, or (without reuse) a fresh one the caller closes. */
  const use = async (name: string, directory: string, wait: boolean): Promise<Connection> => {
    if (reuse) return connect(name, directory, wait);
    const connection: Connection = { tools: [], failures: 0, retryAt: 0, calls: 0, lastUsed: Date.now() };
    try {
      connection.client = await open(name, options.servers[name], directory, connection);
      outcomes.set(name, 'connected');
    } catch (error) {
      outcomes.set(name, 'failed');
      throw error;
    }
    return connection;
  };

  return {
    async list(directory) {
      const perServer = await Promise.all(
        enabled.map(async ([name, server]) => {
          const connection = await use(name, directory, false).catch(() => undefined);
          await connection?.refreshing;
          const tools = (connection?.tools ?? []).filter((tool) => isOffered(server, tool.name));
          if (!reuse) void connection?.client?.close().catch(() => {});
          return tools.map((tool) => ({ name, server, tool }));
        }),
      );
      const all = perServer.flat();
      const counts = new Map<string, number>();
      for (const { tool } of all) counts.set(tool.name, (counts.get(tool.name) ?? 0) + 1);
      return all.map(
        ({ name, server, tool }): ToolInfo => ({
          name: (counts.get(tool.name) ?? 0) > 1 ? `${name}__${tool.name}` : tool.name,
          server: name,
          serverToolName: tool.name,
          description: tool.description ?? '',
          inputSchema: tool.inputSchema as Record<string, unknown>,
          rule: configuredRule(server, tool.name),
          readOnlyHint: tool.annotations?.readOnlyHint,
          destructiveHint: tool.annotations?.destructiveHint,
        }),
      );
    },

    async call(directory, tool, args, callOptions) {
      const server = options.servers[tool.server];
      const timeout = server?.timeout ? server.timeout * 1000 : (options.defaultCallTimeout ?? 60_000);
      let connection: Connection | undefined;
      try {
        connection = await use(tool.server, directory, true);
      } catch {}
      if (callOptions.signal.aborted) throw callOptions.signal.reason;
      if (!connection?.client) {
        return {
          content: `The MCP server "${tool.server}" could not be started; the tool did not run.`,
          isError: true,
        };
      }
      // A controller of the call's own, linked to the turn's signal only while the call runs: the
      // SDK adds a listener to the signal it is given and never removes it.
      const controller = new AbortController();
      const abort = () => controller.abort(callOptions.signal.reason);
      callOptions.signal.addEventListener('abort', abort, { once: true });
      connection.calls += 1;
      try {
        const result = (await connection.client.callTool({ name: tool.serverToolName, arguments: args }, undefined, {
          signal: controller.signal,
          timeout,
          resetTimeoutOnProgress: true,
          onprogress: callOptions.onProgress,
        })) as CallToolResult;
        connection.failures = 0;
        return { content: toolResultText(result), isError: result.isError === true };
      } catch (error) {
        if (callOptions.signal.aborted) throw callOptions.signal.reason;
        if (error instanceof McpError && error.code === ErrorCode.RequestTimeout) {
          return { content: `The tool did not answer within ${timeout / 1000}s and was cancelled.`, isError: true };
        }
        if (error instanceof McpError && error.code === ErrorCode.ConnectionClosed) {
          return {
            content: `The MCP server "${tool.server}" exited during the call; it restarts on next use.`,
            isError: true,
          };
        }
        const message = error instanceof Error ? error.message : String(error);
        return { content: `The tool call failed: ${message}`, isError: true };
      } finally {
        connection.calls -= 1;
        callOptions.signal.removeEventListener('abort', abort);
        if (!reuse) void connection.client.close().catch(() => {});
      }
    },

    status() {
      const result: Record<string, ServerStatus> = {};
      for (const name of Object.keys(options.servers)) {
        if (!enabled.some(([enabledName]) => enabledName === name)) {
          result[name] = 'disabled';
          continue;
        }
        const outcome = outcomes.get(name);
        if (outcome) {
          result[name] = outcome;
          continue;
        }
        const mine = [...connections.entries()].filter(([key]) => key.startsWith(`${name}\u0000`)).map(([, c]) => c);
        if (mine.some((connection) => connection.client)) result[name] = 'connected';
        else if (mine.some((connection) => connection.failures > 0)) result[name] = 'failed';
        else result[name] = 'connecting';
      }
      return result;
    },

    async close() {
      const clients = [...connections.values()].map((connection) => connection.client).filter(Boolean) as Client[];
      connections.clear();
      await Promise.allSettled(clients.map((client) => client.close()));
    },
  };
}
