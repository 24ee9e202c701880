import serversFile from '../../config/servers.json' with { type: 'json' };
import packageJson from '../../package.json' with { type: 'json' };
import { type App, createApp } from '../app.js';
import { environmentSource, resolveConfig } from '../config/resolve-config.js';
import { isLoopback } from '../http/security.js';
import { createModels } from '../llm/create-models.js';
import { createLogger } from '../logger.js';
import { createRootDirectoryGuard } from '../sessions/root-directory-guard.js';
import { randomSessionId, sessionIdPattern } from '../sessions/session-id.js';
import { createKvStore, type KvNamespaceLike } from '../store/kv-store.js';
import { createMemoryStore } from '../store/memory-store.js';
import { createTieredStore } from '../store/tiered-store.js';
import { createMcpToolProvider } from '../tools/mcp-tool-provider.js';
import { parseServersConfig, serverSecrets } from '../tools/servers-config.js';

/** The part of a Durable Object namespace binding the Worker uses. */
interface HubNamespace {
  idFromName(name: string): unknown;
  get(id: unknown): { fetch(request: Request): Promise<Response> };
}

/** The Worker's bindings: KV for sessions, optionally the session hubs, and settings as vars and secrets. */
export interface WorkerEnvironment {
  SESSIONS: KvNamespaceLike;
  /** One Durable Object per session: turns run there, so approvals are exactly once and streams wait. */
  SESSION_HUB?: HubNamespace;
  /** servers.json text (the mcpServers format); the bundled config/servers.json when unset. */
  MCP_SERVERS?: string;
  [name: string]: unknown;
}

/**
 * Defaults that differ from Node's. Without Durable Objects a stream cannot outlive its request,
 * so streams do not wait on approvals and a disconnect stops the turn at once; in a session hub
 * (a Durable Object) they can, and the Node defaults apply.
 */
const workerDefaults = { APPROVAL_TIMEOUT: '0', RESUME_GRACE: '0', CURRENT_DIRECTORY: '/', HOST: '0.0.0.0' };
const hubDefaults = { CURRENT_DIRECTORY: '/', HOST: '0.0.0.0' };

type Built = { app: App } | { error: string };

function build(env: WorkerEnvironment, hub?: { sessionId: () => string }): Built {
  const resolved = resolveConfig([environmentSource(env), environmentSource(hub ? hubDefaults : workerDefaults)]);
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
  const kv = createKvStore({ namespace: env.SESSIONS });
  const app = createApp({
    config,
    // A hub is the only writer of its session: it keeps it in memory and writes it through to KV.
    store: hub ? createTieredStore(createMemoryStore(), kv) : kv,
    models: createModels(config),
    // Workers cannot share I/O between requests; a Durable Object can.
    tools: createMcpToolProvider({ servers, variables, logger, version, reuseConnections: Boolean(hub) }),
    directories: createRootDirectoryGuard({
      base: config.currentDirectory,
      roots: [config.currentDirectory, ...config.allowDirectory],
    }),
    logger,
    version,
    ...(hub ? { newSessionId: hub.sessionId } : {}),
  });
  return { app };
}

const configurationError = (message: string) =>
  new Response(JSON.stringify({ error: { code: 'configuration_error', message } }), {
    status: 500,
    headers: { 'content-type': 'application/json' },
  });

/** The header that tells a session hub which session it is. */
const hubHeader = 'x-llm-chat-server-session';

/**
 * A Durable Object that holds one session: every request naming it runs here, one at a time per
 * decision, so "approve exactly once" holds across the world, and streams can wait on approvals.
 */
export class SessionHub {
  private sessionId = '';
  private readonly built: Built;

  constructor(_state: unknown, env: WorkerEnvironment) {
    this.built = build(env, { sessionId: () => this.sessionId });
  }

  async fetch(request: Request): Promise<Response> {
    this.sessionId ||= request.headers.get(hubHeader) ?? '';
    if ('error' in this.built) return configurationError(this.built.error);
    return this.built.app.fetch(request);
  }
}

/** Routes that concern no session; the front Worker answers them itself. */
const sessionFree = (method: string, path: string) =>
  method === 'OPTIONS' || (method === 'GET' && ['/', '/health', '/docs', '/openapi.json'].includes(path));

/** Sends a request to its session's hub, creating the default session there when there is none. */
async function toHub(request: Request, env: WorkerEnvironment & { SESSION_HUB: HubNamespace }, front: App) {
  const url = new URL(request.url);
  if (sessionFree(request.method, url.pathname)) return front.fetch(request, env);
  let body: string | undefined;
  let named = request.headers.get('x-session-id') ?? url.searchParams.get('session_id') ?? undefined;
  if (request.method === 'POST') {
    body = await request.text();
    try {
      const parsed = JSON.parse(body) as { session_id?: unknown };
      if (typeof parsed?.session_id === 'string') named ??= parsed.session_id;
    } catch {}
  }
  // An id of a wrong form is refused by the front itself (400, before any lookup).
  if (named !== undefined && !sessionIdPattern.test(named)) return front.fetch(new Request(request, { body }), env);
  const hubFor = (id: string) => env.SESSION_HUB.get(env.SESSION_HUB.idFromName(id));
  const forward = (id: string, original: Request, extra: Record<string, string> = {}) => {
    const headers = new Headers(original.headers);
    headers.set(hubHeader, id);
    for (const [name, value] of Object.entries(extra)) headers.set(name, value);
    return hubFor(id).fetch(new Request(original, { body, headers }));
  };
  if (url.pathname === '/start_session' && request.method === 'POST') return forward(randomSessionId(), request);
  if (named !== undefined) return forward(named, request);
  // No session named: the default one, created with the server's defaults if there is none yet.
  let id = await env.SESSIONS.get('session:default', 'text');
  if (!id) {
    id = randomSessionId();
    const start = new Request(new URL('/start_session', url), {
      method: 'POST',
      headers: { ...Object.fromEntries(request.headers), 'content-type': 'application/json' },
    });
    const headers = new Headers(start.headers);
    headers.set(hubHeader, id);
    headers.delete('content-length');
    const created = await hubFor(id).fetch(new Request(start, { body: '{}', headers }));
    if (!created.ok) return created;
  }
  return forward(id, request, { 'x-session-id': id });
}

let front: Built | undefined;

export default {
  async fetch(request: Request, env: WorkerEnvironment, context: unknown): Promise<Response> {
    front ??= build(env);
    if ('error' in front) return configurationError(front.error);
    if (env.SESSION_HUB) return toHub(request, env as WorkerEnvironment & { SESSION_HUB: HubNamespace }, front.app);
    return front.app.fetch(request, env, context as never);
  },
};
