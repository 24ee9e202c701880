import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { lazy } from '../lazy.js';
import type { Logger } from '../logger.js';
import { connectTransport, type StdioStarter } from './connect-transport.js';
import { fileUri, listAllTools, validatingOnFirstUse } from './mcp-protocol.js';
import { resolveServer, type ServerConfig } from './servers-config.js';

/** An open client connection to one MCP server for one working directory. */
export interface McpConnection {
  readonly client: Client;
  /** The server's tools: listed when the connection opened, and again on `notifications/tools/list_changed`. */
  readonly tools: Tool[];
  /** Settles when no re-listing is in progress, so a tool added during a call is offered at once. */
  settled(): Promise<void>;
  /** Closes the connection; a stdio server is asked to exit (and killed if it does not). Idempotent. */
  close(): Promise<void>;
}

export interface OpenMcpConnectionOptions {
  /** The server's name in servers.json. */
  name: string;
  /** Its settings as configured, before substitution. */
  server: ServerConfig;
  /** Values for `${NAME}` substitution; `CURRENT_DIRECTORY` is added. */
  variables: Record<string, string | undefined>;
  /** The session's working directory: the server's root, and a stdio server's cwd. */
  directory: string;
  startStdio?: StdioStarter;
  logger: Logger;
  version: string;
  /** Aborting closes the connection, also while it opens (the opening then rejects). */
  signal: AbortSignal;
  /** Called once if the server or its transport ends the connection; not after `close`. */
  onClose?: () => void;
}

// The SDK's client is the largest part of start-up: it loads with the first connection, after the server listens.
const loadSdk = lazy(() =>
  Promise.all([
    import('@modelcontextprotocol/sdk/client/index.js'),
    import('@modelcontextprotocol/sdk/types.js'),
    import('@modelcontextprotocol/sdk/validation/ajv'),
  ]),
);

/** Connects to the server, answers its `roots/list` with the directory, and lists its tools. */
export async function openMcpConnection(options: OpenMcpConnectionOptions): Promise<McpConnection> {
  const { name, directory, logger, signal } = options;
  signal.throwIfAborted();
  const [{ Client }, { ListRootsRequestSchema, ToolListChangedNotificationSchema }, { AjvJsonSchemaValidator }] =
    await loadSdk();
  signal.throwIfAborted();
  const client = new Client(
    { name: 'llm-chat-server', version: options.version },
    {
      capabilities: { roots: { listChanged: true } },
      jsonSchemaValidator: validatingOnFirstUse(() => new AjvJsonSchemaValidator()),
    },
  );
  let tools: Tool[] = [];
  let refreshing: Promise<void> | undefined;
  let closing: Promise<void> | undefined;
  const close = () => {
    signal.removeEventListener('abort', close);
    closing ??= client.close().catch(() => {});
    return closing;
  };
  signal.addEventListener('abort', close, { once: true });

  // Our own handler rather than the SDK's debounced one, so the next listing can wait for the fresh tools.
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    const refresh = listAllTools(client)
      .then((listed) => {
        tools = listed;
      })
      .catch((error) => {
        if (!closing) logger.warn(`MCP server "${name}": re-listing tools failed`, { error: String(error) });
      })
      .finally(() => {
        if (refreshing === refresh) refreshing = undefined;
      });
    refreshing = refresh;
  });
  client.setRequestHandler(ListRootsRequestSchema, async () => ({
    roots: [{ uri: fileUri(directory), name: directory.split('/').filter(Boolean).pop() ?? directory }],
  }));

  try {
    const server = resolveServer(options.server, { ...options.variables, CURRENT_DIRECTORY: directory });
    await connectTransport(client, { name, server, directory, startStdio: options.startStdio, logger, signal });
    tools = await listAllTools(client, { signal });
  } catch (error) {
    await close();
    throw error;
  }
  client.onclose = () => {
    if (closing) return;
    signal.removeEventListener('abort', close);
    options.onClose?.();
  };
  return {
    client,
    get tools() {
      return tools;
    },
    settled: async () => {
      await refreshing;
    },
    close,
  };
}
