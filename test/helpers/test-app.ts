import { mkdtemp, realpath } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AppConfig, type AppDependencies, createApp } from '../../src/app.js';
import { configSchema } from '../../src/config/schema.js';
import { createModels } from '../../src/llm/create-models.js';
import { createLogger } from '../../src/logger.js';
import { createNodeDirectoryGuard } from '../../src/node/directory-guard.js';
import { createStdioStarter } from '../../src/node/stdio-transport.js';
import { createUndiciFetch } from '../../src/node/undici-fetch.js';
import { createMemoryStore } from '../../src/store/memory-store.js';
import { createMcpToolProvider } from '../../src/tools/mcp-tool-provider.js';
import type { ServersConfig } from '../../src/tools/servers-config.js';
import type { ToolProvider } from '../../src/tools/tool-provider.js';
import type { FakeUpstream } from './fake-upstream.js';

export const projectDirectory = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');

const openProviders = new Set<ToolProvider>();

/** Stops every MCP server the apps built so far started (call in afterAll). */
export async function closeToolProviders() {
  const providers = [...openProviders];
  openProviders.clear();
  await Promise.all(providers.map((provider) => provider.close()));
}

/** The Node entry's HTTP client for the LLM clients, one for every app built here. */
const undiciHttp = createUndiciFetch();

export const canaryApiKey = 'sk-canary-7f3a9c2e5b1d4e8f';

/**
 * Every response body and log line of apps built here, read in the background; the canary check
 * in test/setup.ts asserts after each test that none of them holds the canary API key.
 */
export const observed: { bodies: Array<Promise<string>>; logs: string[] } = { bodies: [], logs: [] };

export async function temporaryDirectory(prefix = 'llm-chat-server-'): Promise<string> {
  return realpath(await mkdtemp(join(tmpdir(), prefix)));
}

/**
 * The app wired as the Node entry wires it, with the LLM at the fake upstream, a canary API key,
 * and a temporary working directory. `logs` collects every log line.
 */
export async function buildTestApp(
  upstream: FakeUpstream,
  overrides: Partial<AppConfig> = {},
  options: {
    servers?: ServersConfig;
    dependencies?: Partial<AppDependencies>;
    /** How the LLM clients make requests: as the Node entry (undici's `request`), or the runtime's `fetch`. */
    http?: 'undici' | 'fetch';
  } = {},
) {
  const currentDirectory = overrides.currentDirectory ?? (await temporaryDirectory());
  const config: AppConfig = {
    ...configSchema.parse({}),
    ollamaBaseUrl: upstream.url,
    openaiBaseUrl: upstream.openaiUrl,
    apiKey: canaryApiKey,
    ...overrides,
    currentDirectory,
  };
  const logs: string[] = [];
  const logger = createLogger({
    level: 'debug',
    write: (line) => {
      logs.push(line);
      observed.logs.push(line);
    },
  });
  // The store reads the app's clock, so a test that advances it expires sessions too.
  const store = createMemoryStore({ now: options.dependencies?.clock?.now, maxSessions: config.maxSessions });
  const tools = options.servers
    ? createMcpToolProvider({
        servers: options.servers,
        variables: { ...process.env, PROJECT_DIR: projectDirectory },
        startStdio: createStdioStarter(logger),
        logger,
        version: '0.0.0-test',
        defaultCallTimeout: 10_000,
      })
    : undefined;
  if (tools) openProviders.add(tools);
  const app = createApp({
    config,
    store,
    models: createModels({
      ...config,
      openaiMaxRetries: 0,
      http: options.http === 'fetch' ? undefined : undiciHttp,
    }),
    tools,
    directories: createNodeDirectoryGuard({
      base: currentDirectory,
      roots: [currentDirectory, ...config.allowDirectory],
    }),
    logger,
    version: '0.0.0-test',
    ...options.dependencies,
  });
  const request = app.request.bind(app);
  app.request = (async (...args: Parameters<typeof request>) => {
    const response = await request(...args);
    observed.bodies.push(response.clone().text());
    return response;
  }) as typeof app.request;
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    app.request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
  return { app, config, logs, store, post, currentDirectory, tools };
}
