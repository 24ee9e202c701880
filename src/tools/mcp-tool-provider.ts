import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { canonicalJson, sha256Hex } from '../approvals/fingerprint.js';
import { rulesOfTool } from '../approvals/match-rules.js';
import { createRedactor, type Logger } from '../logger.js';
import { callTool } from './call-tool.js';
import type { StdioStarter } from './connect-transport.js';
import type { ConnectionOpener } from './connection-strategy.js';
import { offeredToolNames } from './offered-tool-names.js';
import { openMcpConnection } from './open-mcp-connection.js';
import { createPerCallConnections } from './per-call-connections.js';
import { createPooledConnections } from './pooled-connections.js';
import { configuredRule, isOffered, type ServerConfig, type ServersConfig } from './servers-config.js';
import { failureResult } from './tool-failure.js';
import type { ServerStatus, ToolInfo, ToolProvider } from './tool-provider.js';

export type { StdioServerSpec } from './connect-transport.js';

export interface McpToolProviderOptions {
  servers: ServersConfig;
  /** Values for `${NAME}` substitution (the process environment, plus e.g. CONFIG_DIR). */
  variables: Record<string, string | undefined>;
  /** Starts a stdio server. Absent where processes cannot be started (Workers): stdio servers are disabled. */
  startStdio?: StdioStarter;
  logger: Logger;
  version: string;
  /** Per-call timeout where a server sets none (milliseconds). */
  defaultCallTimeout?: number;
  /**
   * Whether a connection may serve later requests (default true). Workers cannot use an I/O object
   * across requests, so there every listing and every call opens its own connection and closes it.
   */
  reuseConnections?: boolean;
  /**
   * Connections kept open at most, over all servers and working directories (default 64); each
   * stdio one is a process. When all are busy, a new directory's listing leaves the server out.
   */
  maxConnections?: number;
  /** The clock of the restart backoff (default `Date.now`). */
  now?: () => number;
  /**
   * Values no tool result, progress message or tool description may carry (the logger's list: MCP
   * server env and header values, keys, tokens); each becomes `[redacted]` before the core sees it.
   */
  secrets?: string[];
}

/** Tools of the MCP servers in servers.json, one client connection per server and working directory. */
export function createMcpToolProvider(options: McpToolProviderOptions): ToolProvider {
  const { logger } = options;
  const redact = createRedactor(options.secrets ?? []);
  const configured = Object.entries(options.servers).filter(([, server]) => !server.disabled);
  const runnable = (server: ServerConfig) => !server.command || Boolean(options.startStdio);
  const enabled = new Map(configured.filter(([, server]) => runnable(server)));
  const skipped = configured.filter(([, server]) => !runnable(server)).map(([name]) => `"${name}"`);
  if (skipped.length > 0) {
    logger.warn(
      `MCP servers ${skipped.join(', ')} use stdio, which this runtime cannot start: they are disabled. Use a "url" server here.`,
    );
  }

  const open: ConnectionOpener = (name, directory, signal, onClose) =>
    openMcpConnection({
      name,
      server: options.servers[name],
      variables: options.variables,
      directory,
      startStdio: options.startStdio,
      logger,
      version: options.version,
      signal,
      onClose,
    });
  const connections =
    options.reuseConnections === false
      ? createPerCallConnections({ open, logger })
      : createPooledConnections({
          open,
          logger,
          maxConnections: options.maxConnections ?? 64,
          now: options.now ?? Date.now,
        });

  // Hashed once per tool with the rest of its description (see `toolInfo`).
  const fingerprintOf = (tool: Tool) =>
    sha256Hex(redact(canonicalJson({ inputSchema: tool.inputSchema, annotations: tool.annotations })));

  const describe = async (offered: string, name: string, server: ServerConfig, tool: Tool): Promise<ToolInfo> => ({
    name: offered,
    server: name,
    serverToolName: tool.name,
    description: redact(tool.description ?? ''),
    inputSchema: JSON.parse(redact(JSON.stringify(tool.inputSchema))) as Record<string, unknown>,
    fingerprint: await fingerprintOf(tool),
    rule: configuredRule(server, tool.name),
    rules: await rulesOfTool(server.rules, tool.name),
    readOnlyHint: tool.annotations?.readOnlyHint,
    destructiveHint: tool.annotations?.destructiveHint,
  });
  // What a listed tool is offered as, made once per tool as its server listed it (a connection keeps
  // its list until `tools/list_changed` brings new objects), not again at every turn: redacting and
  // copying the input schema and matching rules cost more than the rest of a turn's start.
  const described = new WeakMap<Tool, { offered: string; name: string; info: Promise<ToolInfo> }>();
  const toolInfo = (offered: string, name: string, server: ServerConfig, tool: Tool): Promise<ToolInfo> => {
    const known = described.get(tool);
    if (known?.offered === offered && known.name === name) return known.info;
    const info = describe(offered, name, server, tool);
    described.set(tool, { offered, name, info });
    return info;
  };

  const callServer: ToolProvider['call'] = async (directory, tool, args, callOptions) => {
    const server = enabled.get(tool.server);
    if (!server) return failureResult({ kind: 'not-started', server: tool.server });
    const timeout = server.timeout ? server.timeout * 1000 : (options.defaultCallTimeout ?? 60_000);
    const lease = await connections.acquire(tool.server, directory, 'call');
    try {
      callOptions.signal.throwIfAborted();
      if (!lease.connection) {
        return failureResult({ kind: lease.unavailable ?? 'not-started', server: tool.server });
      }
      return await callTool(lease.connection.client, tool.serverToolName, args, {
        ...callOptions,
        server: tool.server,
        timeout,
      });
    } finally {
      await lease.release();
    }
  };

  return {
    async list(directory) {
      const perServer = await Promise.all(
        [...enabled].map(async ([name, server]) => {
          const lease = await connections.acquire(name, directory, 'list');
          try {
            const tools = (await lease.tools()).filter((tool) => isOffered(server, tool.name));
            return tools.map((tool) => ({ name, server, tool }));
          } finally {
            await lease.release();
          }
        }),
      );
      const all = perServer.flat();
      const names = offeredToolNames(all.map(({ name, tool }) => ({ server: name, name: tool.name })));
      return Promise.all(all.map(({ name, server, tool }, index) => toolInfo(names[index], name, server, tool)));
    },

    async call(directory, tool, args, callOptions) {
      const { onProgress } = callOptions;
      const result = await callServer(directory, tool, args, {
        ...callOptions,
        onProgress:
          onProgress &&
          ((progress) =>
            onProgress(progress.message === undefined ? progress : { ...progress, message: redact(progress.message) })),
      });
      return { ...result, content: redact(result.content) };
    },

    status() {
      const result: Record<string, ServerStatus> = {};
      for (const name of Object.keys(options.servers)) {
        result[name] = enabled.has(name) ? connections.status(name) : 'disabled';
      }
      return result;
    },

    close: () => connections.close(),
  };
}
