import { createApp } from './app.js';
import type { AppConfig } from './app-config.js';
import type { AuditSink } from './approvals/audit-sink.js';
import { createWebhookNotifier, pageAddress } from './approvals/webhook-notifier.js';
import type { TurnCoordinator } from './chat/turn-coordinator.js';
import { systemClock } from './clock.js';
import type { SessionHost } from './http/session-gate.js';
import type { EventStreamTransport } from './http/turn-output.js';
import { createModels, type ModelHttp } from './llm/create-models.js';
import { createUpstreamProbe } from './llm/upstream-probe.js';
import { createUpstreamStatus } from './llm/upstream-status.js';
import { createLogger, type Logger } from './logger.js';
import type { Metrics } from './metrics/metrics.js';
import type { DirectoryGuard } from './sessions/directory-guard.js';
import type { SessionStore } from './store/session-store.js';
import { createMcpToolProvider, type McpToolProviderOptions } from './tools/mcp-tool-provider.js';
import { type ServersConfig, serverSecrets } from './tools/servers-config.js';
import { registeredTracer } from './tracing/tracing.js';

export interface ServerParts {
  config: AppConfig;
  /** The MCP servers of servers.json (or the Worker's MCP_SERVERS). */
  servers: ServersConfig;
  /** What `${NAME}` in servers.json may name: the environment, and CONFIG_DIR on Node. */
  variables: Record<string, string | undefined>;
  /** Where log lines go. */
  write: (line: string) => void;
  store: SessionStore;
  directories: DirectoryGuard;
  version: string;
  /** Makes the starter of stdio MCP servers; absent where the runtime has no processes (they are then disabled). */
  stdio?: (logger: Logger) => NonNullable<McpToolProviderOptions['startStdio']>;
  /** Whether MCP connections outlive a request (not on a plain Worker). */
  reuseConnections?: boolean;
  /** Where each session's requests run, when not here (the Workers front). */
  sessionHost?: SessionHost;
  newSessionId?: () => string;
  /** Whether this server is the only one running its sessions' turns (see `AppDependencies`). */
  recoverInterruptedTurns?: boolean;
  /** How servers sharing the store agree on who runs each turn (see `AppDependencies`). */
  coordinator?: TurnCoordinator;
  /** Where the server's work is counted, served at `GET /metrics` (Node and Bun); none when absent. */
  metrics?: Metrics;
  /**
   * The address the server listens on (`http://host:port`) once it does, for links to the page
   * when `--public-url` is unset; `http://<--host>:<--port>` when absent.
   */
  listenAddress?: () => string | undefined;
  /** What the start-up probe of the LLM requests with (default: the global `fetch`). */
  probeFetch?: typeof fetch;
  /** What the LLM clients request with (default: the global `fetch`). */
  modelHttp?: ModelHttp;
  /** Makes the sink of the --audit-log file (Node and Bun); none when absent. */
  auditLog?: (logger: Logger) => AuditSink;
  /** How event streams leave (see `AppDependencies`). */
  eventStreams?: EventStreamTransport;
}

/** `http://<host>:<port>` as the settings name it (an IPv6 address in brackets). */
const configuredAddress = (config: AppConfig) =>
  `http://${config.host.includes(':') && !config.host.startsWith('[') ? `[${config.host}]` : config.host}:${config.port}`;

/** The password of a URL, as written and decoded (`p%40ss` and `p@ss`). */
function urlPassword(url: string | undefined): string[] {
  const password = url ? URL.parse(url)?.password : undefined;
  return password ? [password, decodeURIComponent(password)] : [];
}

/**
 * The one place the server is put together from its parts, for every runtime: a logger that
 * redacts every secret (API key, token, MCP server env and header values), the MCP tools (whose
 * results, progress messages and descriptions are redacted with the same list), the
 * model adapters and the app. Entries only gather the parts and listen.
 */
export function composeServer(parts: ServerParts) {
  const { config } = parts;
  const secrets = [
    ...[
      config.apiKey,
      config.authToken,
      config.approverToken,
      config.approvalWebhookSecret,
      ...urlPassword(config.redisUrl),
    ].filter((secret): secret is string => Boolean(secret)),
    ...serverSecrets(parts.servers, { ...parts.variables, CURRENT_DIRECTORY: config.currentDirectory }),
  ];
  const logger = createLogger({ level: config.logLevel, format: config.logFormat, write: parts.write, secrets });
  const upstream = createUpstreamStatus({
    probe: createUpstreamProbe({ ...config, fetch: parts.probeFetch }),
    clock: systemClock,
    interval: config.upstreamCheckInterval,
  });
  const tools = createMcpToolProvider({
    secrets,
    servers: parts.servers,
    variables: parts.variables,
    startStdio: parts.stdio?.(logger),
    logger,
    version: parts.version,
    reuseConnections: parts.reuseConnections,
    maxConnections: config.maxMcpConnections,
  });
  const webhook = config.approvalWebhook;
  const approvalNotifier =
    webhook && config.approvalWebhookSecret
      ? createWebhookNotifier({
          url: webhook,
          secret: config.approvalWebhookSecret,
          pageUrl: () => pageAddress(config.publicUrl ?? parts.listenAddress?.() ?? configuredAddress(config)),
          clock: systemClock,
          logger,
        })
      : undefined;
  if (webhook) logger.info(`approval webhook: every new pending approval is POSTed to ${new URL(webhook).origin}`);
  const app = createApp({
    config,
    store: parts.store,
    models: createModels({ ...config, http: parts.modelHttp }, { logger, clock: systemClock, report: upstream.report }),
    upstream,
    tools,
    directories: parts.directories,
    logger,
    version: parts.version,
    sessionHost: parts.sessionHost,
    newSessionId: parts.newSessionId,
    recoverInterruptedTurns: parts.recoverInterruptedTurns,
    coordinator: parts.coordinator,
    metrics: parts.metrics,
    tracer: registeredTracer(parts.version),
    approvalNotifier,
    auditSink: parts.auditLog?.(logger),
    eventStreams: parts.eventStreams,
  });
  return { app, tools, logger, upstream };
}
