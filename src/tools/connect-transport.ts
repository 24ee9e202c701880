import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { lazy } from '../lazy.js';
import type { Logger } from '../logger.js';
import { deliverResponsesAfterNotifications } from './mcp-protocol.js';
import type { ServerConfig } from './servers-config.js';
import { fetchWithTraceHeaders } from './trace-headers-fetch.js';

/** What a stdio MCP server is started with. */
export interface StdioServerSpec {
  command: string;
  args: string[];
  env: Record<string, string>;
  /** The session's working directory. */
  cwd: string;
}

/**
 * Starts a stdio server and returns its (not yet started) transport, or a promise of it (the
 * starter may load its transport on first use). Injected by runtimes that can start processes;
 * tests may hand back one end of an in-memory pair instead.
 */
export type StdioStarter = (spec: StdioServerSpec) => Transport | Promise<Transport>;

export interface ConnectTransportOptions {
  /** The server's name in servers.json, for the log. */
  name: string;
  /** With every substitution made. */
  server: ServerConfig;
  directory: string;
  startStdio?: StdioStarter;
  logger: Logger;
  /** Aborting stops a fallback from being tried. */
  signal: AbortSignal;
}

/** The spec says a server without Streamable HTTP answers its POST with a 4xx: then try the older HTTP+SSE. */
const wantsOlderTransport = (error: unknown, type: typeof StreamableHTTPError): error is StreamableHTTPError =>
  error instanceof type && (error.code ?? 0) >= 400 && (error.code ?? 0) < 500;

// Loaded with the first HTTP server's connection: a configuration of stdio servers never needs them.
const loadHttpTransports = lazy(() =>
  Promise.all([
    import('@modelcontextprotocol/sdk/client/streamableHttp.js'),
    import('@modelcontextprotocol/sdk/client/sse.js'),
  ]),
);

/**
 * Connects `client` to the server: over stdio through `startStdio`, or over Streamable HTTP with a
 * fallback to HTTP+SSE.
 */
export async function connectTransport(client: Client, options: ConnectTransportOptions): Promise<void> {
  const { server, name, logger, signal } = options;
  let transport: Transport;
  if (server.command && options.startStdio) {
    transport = await options.startStdio({
      command: server.command,
      args: server.args,
      env: server.env,
      cwd: options.directory,
    });
    await client.connect(transport, { signal });
  } else {
    const [{ StreamableHTTPClientTransport, StreamableHTTPError }, { SSEClientTransport }] = await loadHttpTransports();
    signal.throwIfAborted();
    const url = new URL(server.url ?? '');
    const requestInit = { headers: server.headers };
    try {
      transport = new StreamableHTTPClientTransport(url, { requestInit, fetch: fetchWithTraceHeaders });
      await client.connect(transport, { signal });
    } catch (error) {
      if (!wantsOlderTransport(error, StreamableHTTPError) || signal.aborted) throw error;
      logger.debug(`MCP server "${name}": no Streamable HTTP (HTTP ${error.code}), trying SSE`);
      transport = new SSEClientTransport(url, { requestInit, fetch: fetchWithTraceHeaders });
      await client.connect(transport, { signal });
    }
  }
  deliverResponsesAfterNotifications(transport);
}
