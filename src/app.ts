import { swaggerUI } from '@hono/swagger-ui';
import { OpenAPIHono } from '@hono/zod-openapi';
import { createTurnChannels, type TurnChannels } from './chat/turn-channels.js';
import { createTurnRegistry, type TurnRegistry } from './chat/turn-registry.js';
import { createTurnService, type TurnService } from './chat/turn-service.js';
import type { Config } from './config/schema.js';
import { AppError } from './errors.js';
import { errorResponse, jsonBodies, notFound, onError } from './http/errors.js';
import { approveRoutes } from './http/routes/approve.js';
import { chatPageRoutes } from './http/routes/chat-page.js';
import { eventsRoutes } from './http/routes/events.js';
import { healthRoutes } from './http/routes/health.js';
import { sessionRoutes } from './http/routes/sessions.js';
import { stopRoutes } from './http/routes/stop.js';
import { userRequestRoutes } from './http/routes/user-request.js';
import { security } from './http/security.js';
import type { ChatModel } from './llm/chat-model.js';
import type { Logger } from './logger.js';
import type { DirectoryGuard } from './sessions/directory-guard.js';
import { createSessionService, type SessionService } from './sessions/session-service.js';
import type { SessionStore } from './store/session-store.js';
import { noTools, type ServerStatus, type ToolProvider } from './tools/tool-provider.js';

/** The configuration the core reads; `currentDirectory` is resolved by the entry. */
export type AppConfig = Config & { currentDirectory: string };

export interface AppDependencies {
  config: AppConfig;
  store: SessionStore;
  /** The model adapter of each provider. */
  models: (provider: 'ollama' | 'openai') => ChatModel;
  directories: DirectoryGuard;
  /** The MCP servers' tools; none when absent. */
  tools?: ToolProvider;
  logger: Logger;
  version: string;
  now?: () => number;
  /** The longest silence on an event stream before a `: ping` comment (default 15 s). */
  keepAlive?: number;
  newSessionId?: () => string;
  newRequestId?: () => string;
}

/** What the routes use: the dependencies plus the services built on them. */
export interface Services {
  config: AppConfig;
  sessions: SessionService;
  turns: TurnRegistry;
  turnService: TurnService;
  channels: TurnChannels;
  tools: ToolProvider;
  logger: Logger;
  version: string;
  now: () => number;
  mcpStatus: () => Record<string, ServerStatus>;
}

/** 256 random bits, base64url: 43 characters of `[A-Za-z0-9_-]`. */
export function randomSessionId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}

/** The whole HTTP API as a Hono app. Knows no runtime: entries pass in everything it needs. */
export function createApp(dependencies: AppDependencies) {
  const { config, logger } = dependencies;
  const now = dependencies.now ?? Date.now;
  const tools = dependencies.tools ?? noTools;
  const turns = createTurnRegistry();
  const sessions = createSessionService({
    store: dependencies.store,
    directories: dependencies.directories,
    ttlMilliseconds: config.sessionTtl,
    requireSessionId: config.requireSessionId,
    newSessionId: dependencies.newSessionId ?? randomSessionId,
    now,
    defaults: {
      provider: config.provider,
      model: config.model,
      temperature: config.temperature,
      contextWindowSize: config.contextWindowSize,
      stream: config.stream,
      currentDirectory: config.currentDirectory,
      systemPrompt: config.systemPrompt,
    },
  });
  const services: Services = {
    config,
    logger,
    version: dependencies.version,
    now,
    tools,
    mcpStatus: () => tools.status(),
    turns,
    sessions,
    channels: createTurnChannels({
      approvalTimeout: config.approvalTimeout,
      resumeGrace: config.resumeGrace,
      keepAlive: dependencies.keepAlive ?? 15_000,
      now,
    }),
    turnService: createTurnService({
      sessions,
      turns,
      models: dependencies.models,
      tools,
      newRequestId: dependencies.newRequestId ?? (() => crypto.randomUUID()),
      now,
      settings: {
        autoApproveReadOnly: config.autoApproveReadOnly,
        approvalTtl: config.approvalTtl,
        maxToolRounds: config.maxToolRounds,
        maxToolResultChars: config.maxToolResultChars,
      },
    }),
  };

  const app = new OpenAPIHono({
    defaultHook: (result, c) => {
      if (result.success) return;
      const details = result.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
      const summary = details
        .map((detail) => (detail.path ? `${detail.path}: ${detail.message}` : detail.message))
        .join('; ');
      return errorResponse(c, new AppError(400, 'invalid_request', `Invalid request: ${summary}`, details));
    },
  });

  app.onError(onError(logger));
  app.notFound(notFound(() => app.routes));
  for (const handler of security({
    host: config.host,
    authToken: config.authToken,
    allowedHosts: config.allowedHosts,
    corsOrigins: config.corsOrigin,
  })) {
    app.use(handler);
  }
  app.use(jsonBodies(config.maxBodyBytes));

  healthRoutes(app, services);
  sessionRoutes(app, services);
  userRequestRoutes(app, services);
  approveRoutes(app, services);
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
  app.get('/docs', swaggerUI({ url: '/openapi.json', title: 'llm-chat-server API' }));
  chatPageRoutes(app);
  return app;
}

export type App = ReturnType<typeof createApp>;
