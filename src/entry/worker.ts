import serversFile from '../../config/servers.json' with { type: 'json' };
import packageJson from '../../package.json' with { type: 'json' };
import { type App, createApp } from '../app.js';
import { environmentSource, resolveConfig } from '../config/resolve-config.js';
import { isLoopback } from '../http/security.js';
import { createModels } from '../llm/create-models.js';
import { createLogger } from '../logger.js';
import { createRootDirectoryGuard } from '../sessions/root-directory-guard.js';
import { createKvStore, type KvNamespaceLike } from '../store/kv-store.js';
import { createMcpToolProvider } from '../tools/mcp-tool-provider.js';
import { parseServersConfig, serverSecrets } from '../tools/servers-config.js';

/** The Worker's bindings: the KV namespace for sessions, and settings as vars and secrets. */
export interface WorkerEnvironment {
  SESSIONS: KvNamespaceLike;
  /** servers.json text (the mcpServers format); the bundled config/servers.json when unset. */
  MCP_SERVERS?: string;
  [name: string]: unknown;
}

/**
 * Workers defaults that differ from Node's: without Durable Objects a stream cannot outlive its
 * request, so streams do not wait on approvals and a disconnect stops the turn at once.
 */
const workerDefaults = { APPROVAL_TIMEOUT: '0', RESUME_GRACE: '0', CURRENT_DIRECTORY: '/', HOST: '0.0.0.0' };

let built: { app: App } | { error: string } | undefined;

function build(env: WorkerEnvironment): { app: App } | { error: string } {
  const resolved = resolveConfig([environmentSource(env), environmentSource(workerDefaults)]);
  if (resolved.kind === 'error') return { error: resolved.message };
  const config = { ...resolved.config, currentDirectory: resolved.config.currentDirectory ?? '/' };
  // A Worker is public: as when the Node server binds a public address, a token is required
  // (HOST=127.0.0.1 in .dev.vars marks a local `wrangler dev` that may run without one).
  if (!isLoopback(config.host) && !config.authToken) {
    return { error: 'AUTH_TOKEN: a Worker is reachable by anyone; set it with `npx wrangler secret put AUTH_TOKEN`.' };
  }
  let servers: ReturnType<typeof parseServersConfig>;
  try {
    servers = env.MCP_SERVERS
      ? parseServersConfig(env.MCP_SERVERS, 'MCP_SERVERS')
      : parseServersConfig(JSON.stringify(serversFile), 'config/servers.json');
  } catch (error) {
    return { error: (error as Error).message };
  }
  const variables = Object.fromEntries(Object.entries(env).filter(([, value]) => typeof value === 'string')) as Record<
    string,
    string
  >;
  const secrets = [
    ...[config.apiKey, config.authToken].filter((secret): secret is string => Boolean(secret)),
    ...serverSecrets(servers, { ...variables, CURRENT_DIRECTORY: config.currentDirectory }),
  ];
  const logger = createLogger({ level: config.logLevel, write: (line) => console.log(line), secrets });
  const version = packageJson.version;
  const app = createApp({
    config,
    store: createKvStore({ namespace: env.SESSIONS }),
    models: createModels(config),
    tools: createMcpToolProvider({ servers, variables, logger, version, reuseConnections: false }),
    directories: createRootDirectoryGuard({
      base: config.currentDirectory,
      roots: [config.currentDirectory, ...config.allowDirectory],
    }),
    logger,
    version,
  });
  return { app };
}

export default {
  async fetch(request: Request, env: WorkerEnvironment, context: unknown): Promise<Response> {
    built ??= build(env);
    if ('error' in built) {
      const body = { error: { code: 'configuration_error', message: built.error } };
      return new Response(JSON.stringify(body), { status: 500, headers: { 'content-type': 'application/json' } });
    }
    return built.app.fetch(request, env, context as never);
  },
};
