import { OpenAPIHono } from '@hono/zod-openapi';
import type { Tracer } from '@opentelemetry/api';
import type { AppConfig } from './app-config.js';
import { type ApprovalInbox, createApprovalInbox } from './approvals/approval-inbox.js';
import type { ApprovalNotifier } from './approvals/approval-notifier.js';
import { trackApprovals } from './approvals/approval-tracking.js';
import type { AuditSink } from './approvals/audit-sink.js';
import { createAuditTrail } from './approvals/audit-trail.js';
import { createConversations } from './chat/conversations.js';
import type { TurnCoordinator } from './chat/turn-coordinator.js';
import { type Clock, systemClock } from './clock.js';
import { jsonBodies, notFound, onError } from './http/errors.js';
import { requestLog } from './http/request-log.js';
import { requestMetrics } from './http/request-metrics.js';
import { requestTracing } from './http/request-tracing.js';
import { approvalsRoutes } from './http/routes/approvals.js';
import { approveRoutes } from './http/routes/approve.js';
import { auditRoutes } from './http/routes/audit.js';
import { chatPageRoutes, pagePaths } from './http/routes/chat-page.js';
import { docsPageRoutes } from './http/routes/docs-page.js';
import { eventsRoutes } from './http/routes/events.js';
import { healthRoutes } from './http/routes/health.js';
import { metricsRoutes } from './http/routes/metrics.js';
import { sessionRoutes } from './http/routes/sessions.js';
import { stopRoutes } from './http/routes/stop.js';
import { userRequestRoutes } from './http/routes/user-request.js';
import { security } from './http/security.js';
import type { Services } from './http/services.js';
import { type SessionHost, sessionRoute } from './http/session-gate.js';
import { createTurnOutput, type EventStreamTransport } from './http/turn-output.js';
import { validationHook } from './http/validation.js';
import type { ChatModel } from './llm/chat-model.js';
import type { Provider } from './llm/provider.js';
import { type UpstreamStatus, unknownUpstream } from './llm/upstream-status.js';
import type { Logger } from './logger.js';
import { meteredParts } from './metrics/metered-parts.js';
import { type Metrics, noMetrics } from './metrics/metrics.js';
import type { DirectoryGuard } from './sessions/directory-guard.js';
import { randomSessionId } from './sessions/session-id.js';
import type { SessionStore } from './store/session-store.js';
import { observedTools } from './tools/observed-tools.js';
import { noTools, type ToolProvider } from './tools/tool-provider.js';
import { createTracing } from './tracing/tracing.js';

export type { AppConfig };

export interface AppDependencies {
  config: AppConfig;
  store: SessionStore;
  /** The model adapter of each provider. */
  models: (provider: Provider) => ChatModel;
  directories: DirectoryGuard;
  /** The MCP servers' tools; none when absent. */
  tools?: ToolProvider;
  logger: Logger;
  version: string;
  /** Time and timers (default: the system's); tests pass a clock they advance. */
  clock?: Clock;
  /** The longest silence on an event stream before a `: ping` comment (default 15 s). */
  keepAlive?: number;
  newSessionId?: () => string;
  newRequestId?: () => string;
  /** What `/health` says of the LLM (`unknown` when absent). */
  upstream?: UpstreamStatus;
  /** Where sessions' requests run when not in this app (the Workers front); here when absent. */
  sessionHost?: SessionHost;
  /**
   * Whether this app is the only one running its sessions' turns (a Node or Bun process on its
   * own store, a session's Durable Object), so that a turn another run of it left marked running
   * was cut off by a restart and is recovered (see `createConversations`). Off by default.
   */
  recoverInterruptedTurns?: boolean;
  /** This run of the server, marked on the turns it runs (default: a random id, or the coordinator's). */
  runner?: string;
  /**
   * How servers sharing the store (Redis) agree on who runs each session's turn and reach each
   * other; absent, this app is alone on its store (see `createConversations`).
   */
  coordinator?: TurnCoordinator;
  /** Where turns, approvals, model and tool calls and requests are counted; `GET /metrics` serves its scrape. None when absent. */
  metrics?: Metrics;
  /**
   * Where spans go (requests, turns, model calls, approval waits, MCP tool calls; prompts and
   * arguments only with `config.traceContent`): the tracer of a registered OpenTelemetry SDK. None
   * when absent. Model and tool calls send their span's trace context on, by the registered propagator.
   */
  tracer?: Tracer;
  /** Told of each tool call that starts to wait for a human (the approval webhook); none when absent. */
  approvalNotifier?: ApprovalNotifier;
  /** Where every audit entry goes besides the session store (the --audit-log file); none when absent. */
  auditSink?: AuditSink;
  /** How event streams leave: the runtime's own way (Node: to the socket); a web `ReadableStream` when absent. */
  eventStreams?: EventStreamTransport;
}

/** The whole HTTP API as a Hono app. Knows no runtime: entries pass in everything it needs. */
export function createApp(dependencies: AppDependencies) {
  const { config, logger } = dependencies;
  const clock = dependencies.clock ?? systemClock;
  const { metrics, tracer } = dependencies;
  const metered =
    (metrics || tracer) &&
    meteredParts(metrics ?? noMetrics, {
      config,
      clock,
      models: dependencies.models,
      tools: dependencies.tools ?? noTools,
      tracing: tracer && createTracing(tracer, { content: config.traceContent }),
    });
  const tools = observedTools(dependencies.tools ?? noTools, logger, clock, metered?.toolMeter);
  const newSessionId = dependencies.newSessionId ?? randomSessionId;
  const keepAlive = dependencies.keepAlive ?? 15_000;
  let inbox: ApprovalInbox | undefined;
  // One layer over the store watches every save: for approvers (inbox, audit) and for the metrics.
  const store = trackApprovals(dependencies.store, {
    now: () => clock.now(),
    saved: metered?.saves.saved,
    deleted: metered?.saves.deleted,
    onChange(changes) {
      inbox?.publish(changes);
      if (changes.audited.length > 0) dependencies.auditSink?.append(changes.audited);
    },
  });
  const conversations = createConversations({
    store,
    directories: dependencies.directories,
    models: metered?.models ?? dependencies.models,
    tools,
    observer: metered?.observer,
    notifier: dependencies.approvalNotifier,
    clock,
    newSessionId,
    newRequestId: dependencies.newRequestId ?? (() => crypto.randomUUID()),
    runner: dependencies.runner,
    coordinator: dependencies.coordinator,
    recoverInterruptedTurns: dependencies.recoverInterruptedTurns,
    settings: {
      defaults: {
        provider: config.provider,
        model: config.model,
        temperature: config.temperature,
        contextWindowSize: config.contextWindowSize,
        stream: config.stream,
        currentDirectory: config.currentDirectory,
        systemPrompt: config.systemPrompt,
      },
      sessionTtl: config.sessionTtl,
      requireSessionId: config.requireSessionId,
      sessionsPerMinute: config.sessionsPerMinute,
      maxHistoryChars: config.maxHistoryChars,
      autoApproveReadOnly: config.autoApproveReadOnly,
      approvalTtl: config.approvalTtl,
      maxToolRounds: config.maxToolRounds,
      maxToolResultChars: config.maxToolResultChars,
      approvalTimeout: config.approvalTimeout,
      resumeGrace: config.resumeGrace,
      keepAlive,
      maxFollowers: config.maxFollowers,
    },
  });
  // The inbox needs a store it can read across sessions; where the sessions run elsewhere (the
  // Workers front) or the store cannot (KV), there is none.
  const index = dependencies.sessionHost ? undefined : dependencies.store.approvals;
  inbox =
    index && createApprovalInbox({ index, clock, keepAlive, expire: (sessionId) => conversations.inspect(sessionId) });
  const gate = { host: dependencies.sessionHost, conversations, newSessionId };
  const services: Services = {
    config,
    conversations,
    tools,
    logger,
    clock,
    version: dependencies.version,
    inbox,
    auditTrail: createAuditTrail(store),
    output: createTurnOutput({
      maxBuffered: config.maxStreamBufferBytes,
      streams: metrics?.streams.bind(metrics),
      transport: dependencies.eventStreams,
    }),
    sessionRoute: (route, scope) => sessionRoute(route, scope, gate),
  };

  const app = new OpenAPIHono({ defaultHook: validationHook });

  if (tracer) app.use(requestTracing(tracer));
  if (metrics) app.use(requestMetrics(metrics, clock));
  app.use(requestLog(logger, clock));
  app.onError(onError(logger));
  app.notFound(notFound(() => app.routes));
  for (const handler of security({
    host: config.host,
    authToken: config.authToken,
    approverToken: config.approverToken,
    allowedHosts: config.allowedHosts,
    corsOrigins: config.corsOrigin,
    publicPaths: pagePaths,
  })) {
    app.use(handler);
  }
  app.use(jsonBodies(config.maxBodyBytes));

  healthRoutes(app, services, dependencies.upstream ?? unknownUpstream);
  if (metered?.scrape) metricsRoutes(app, metered.scrape);
  sessionRoutes(app, services);
  userRequestRoutes(app, services);
  approveRoutes(app, services);
  approvalsRoutes(app, services);
  auditRoutes(app, services);
  eventsRoutes(app, services);
  stopRoutes(app, services);

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'llm-chat-server',
      version: dependencies.version,
      description: 'Chat with an LLM whose MCP tools run only with a human approval.',
    },
    ...(config.authToken ? { security: [{ bearer: [] }] } : {}),
  });
  docsPageRoutes(app);
  chatPageRoutes(app);
  return app;
}

export type App = ReturnType<typeof createApp>;
