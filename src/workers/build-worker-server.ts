import serversFile from '../../config/servers.json' with { type: 'json' };
import packageJson from '../../package.json' with { type: 'json' };
import type { App } from '../app.js';
import { composeServer } from '../compose-server.js';
import { environmentSource, resolveConfig } from '../config/resolve-config.js';
import { isLoopback } from '../http/security.js';
import type { SessionHost } from '../http/session-gate.js';
import { createRootDirectoryGuard } from '../sessions/root-directory-guard.js';
import type { SessionStore } from '../store/session-store.js';
import { parseServersConfig, type ServersConfig } from '../tools/servers-config.js';
import type { WorkerEnvironment } from './worker-environment.js';

/** The three shapes of the Worker: KV alone, the front of the session hubs, and a hub. */
export type WorkerRole = 'standalone' | 'front' | 'hub';

/**
 * Defaults that differ from Node's. Without Durable Objects a stream cannot outlive its request,
 * so streams do not wait on approvals and a disconnect stops the turn at once; in a session hub
 * (a Durable Object) they can, and the Node defaults apply.
 */
const roleDefaults: Record<WorkerRole, Record<string, string>> = {
  standalone: { APPROVAL_TIMEOUT: '0', RESUME_GRACE: '0', CURRENT_DIRECTORY: '/', HOST: '0.0.0.0' },
  front: { CURRENT_DIRECTORY: '/', HOST: '0.0.0.0' },
  hub: { CURRENT_DIRECTORY: '/', HOST: '0.0.0.0' },
};

export type WorkerServer = { app: App; store: SessionStore } | { error: string };

/**
 * The server of one role, from the Worker's bindings: configuration from vars and secrets, MCP
 * servers from MCP_SERVERS (or the bundled servers.json), through the same composition as Node.
 */
export function buildWorkerServer(
  env: WorkerEnvironment,
  role: WorkerRole,
  parts: { store: SessionStore; sessionHost?: SessionHost; newSessionId?: () => string },
): WorkerServer {
  const resolved = resolveConfig([environmentSource(env), environmentSource(roleDefaults[role])]);
  if (resolved.kind === 'error') return { error: resolved.message };
  const config = { ...resolved.config, currentDirectory: resolved.config.currentDirectory ?? '/' };
  // A Worker is public: as when the Node server binds a public address, a token is required
  // (HOST=127.0.0.1 in .dev.vars marks a local `wrangler dev` that may run without one).
  if (!isLoopback(config.host) && !config.authToken) {
    return { error: 'AUTH_TOKEN: a Worker is reachable by anyone; set it with `npx wrangler secret put AUTH_TOKEN`.' };
  }
  if (config.auditLog !== undefined) {
    return {
      error:
        'AUDIT_LOG: a Worker has no files; read the audit trail with GET /audit (each session keeps its latest entries).',
    };
  }
  let servers: ServersConfig;
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
  const { app } = composeServer({
    config,
    servers,
    variables,
    write: (line) => console.log(line),
    store: parts.store,
    directories: createRootDirectoryGuard({
      base: config.currentDirectory,
      roots: [config.currentDirectory, ...config.allowDirectory],
    }),
    version: packageJson.version,
    // Workers cannot share I/O between requests; a Durable Object can.
    reuseConnections: role === 'hub',
    sessionHost: parts.sessionHost,
    newSessionId: parts.newSessionId,
    // A hub is its session's only runner; a plain Worker's requests run in many isolates at once.
    recoverInterruptedTurns: role === 'hub',
  });
  return { app, store: parts.store };
}
