import { readFileSync } from 'node:fs';
import { access, readFile, realpath, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { composeServer } from '../compose-server.js';
import { isLoopback } from '../http/security.js';
import type { EventStreamTransport } from '../http/turn-output.js';
import { lazy } from '../lazy.js';
import type { ModelHttp } from '../llm/create-models.js';
import { startupChecks } from '../llm/startup-checks.js';
import type { Logger } from '../logger.js';
import { parseServersConfig, type ServersConfig } from '../tools/servers-config.js';
import { AuditLogOpenError, openAuditLogFile } from './audit-log-file.js';
import { batchedLines } from './batched-lines.js';
import { createNodeDirectoryGuard } from './directory-guard.js';
import { type LoadedEnvFile, loadConfig } from './load-config.js';
import { nodeMetrics } from './node-metrics.js';
import { startNodeTracing } from './node-tracing.js';
import { openSessionStore } from './open-session-store.js';
import { StoreOpenError } from './open-sqlite-store.js';
import { packageInfo } from './package-info.js';
import { smallFetch } from './small-fetch.js';
import { createStdioStarter } from './stdio-transport.js';
import type { UndiciFetch } from './undici-fetch.js';

/** The log's lines, one write per event-loop turn; written out at exit and before a fatal line. */
const stderrLines = batchedLines((text) => process.stderr.write(text));

export function fail(message: string): never {
  stderrLines.flush();
  process.stderr.write(`llm-chat-server: ${message}\n`);
  process.exit(2);
}

/**
 * Everything the Node and Bun entries share: configuration from flags, env and the `.env` file
 * they name (exit 2 on a bad value), the MCP servers of the servers file, and the app. The
 * entries only listen.
 */
export async function prepareServer(
  options: {
    /** How event streams leave, for an app whose streams queue at most `maxBuffered` bytes (default: web streams). */
    eventStreams?: (maxBuffered: number) => EventStreamTransport;
  } = {},
) {
  process.on('exit', stderrLines.flush);
  const loaded = loadConfig({
    argv: process.argv.slice(2),
    env: process.env,
    cwd: process.cwd(),
    readEnvFile: (path) => readFileSync(path, 'utf8'),
  });
  if (loaded.kind === 'help') {
    process.stdout.write(`${loaded.text}\n`);
    process.exit(0);
  }
  if (loaded.kind === 'error') fail(loaded.message);
  const { config, envFile } = loaded;
  const currentDirectory = await realpath(config.currentDirectory ?? process.cwd()).catch(() =>
    fail(`--current-directory: "${config.currentDirectory}" does not exist.`),
  );

  if (!isLoopback(config.host) && !config.authToken) {
    fail(`--host ${config.host} is not a loopback address; set --auth-token (or AUTH_TOKEN) to bind it.`);
  }
  const directory = await stat(currentDirectory).catch(() => undefined);
  if (!directory?.isDirectory()) fail(`--current-directory: "${currentDirectory}" is not an existing directory.`);
  // The default servers file is the package's own: never one of the working directory, which may be a cloned repository.
  const ownPackage = packageInfo();
  const serversPath = config.serversConfig ? resolve(config.serversConfig) : ownPackage.defaultServersPath;
  const serversText = await readFile(serversPath, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (config.serversConfig) {
      fail(`--servers-config: cannot read "${config.serversConfig}" (${error.code}); fix the path or leave it unset.`);
    }
    return undefined;
  });
  let servers: ServersConfig = {};
  try {
    servers = serversText === undefined ? {} : parseServersConfig(serversText, serversPath);
  } catch (error) {
    fail((error as Error).message);
  }

  const opened = await openSessionStore(config, process.env).catch((error) => {
    if (error instanceof StoreOpenError) fail(error.message);
    throw error;
  });

  const auditLog =
    config.auditLog === undefined
      ? undefined
      : await openAuditLogFile(config.auditLog).catch((error) => {
          if (error instanceof AuditLogOpenError) fail(error.message);
          throw error;
        });

  const stopTracing = await startNodeTracing(process.env, ownPackage.version);
  let listenAddress: string | undefined;
  const { app, tools, logger, upstream } = composeServer({
    config: { ...config, currentDirectory },
    servers,
    variables: { ...process.env, CONFIG_DIR: dirname(serversPath), ...ownPackage.variables },
    write: stderrLines.line,
    store: opened.store,
    directories: createNodeDirectoryGuard({ base: process.cwd(), roots: [currentDirectory, ...config.allowDirectory] }),
    version: ownPackage.version,
    stdio: createStdioStarter,
    // The only process on its store: a turn it finds marked running by an earlier run was cut off.
    recoverInterruptedTurns: opened.onlyRunner,
    // Servers sharing the store (Redis): one runs each turn, and they reach each other.
    coordinator: opened.coordinator,
    metrics: nodeMetrics(config),
    listenAddress: () => listenAddress,
    // Node's fetch would build its HTTP parser for the probe: a server no one has chatted with does without it.
    probeFetch: smallFetch,
    // Bun's own fetch is native; on Node, undici's `request` under the clients (see undici-fetch.ts).
    modelHttp: process.versions.bun ? undefined : lazyUndiciFetch(),
    auditLog: auditLog && ((logger) => auditLog.sink(logger)),
    eventStreams: options.eventStreams?.(config.maxStreamBufferBytes),
  });
  await logSources(logger, envFile, serversPath);
  opened.describe(logger);
  if (config.auditLog) logger.info(`audit log: every approval decision is appended to ${config.auditLog}`);
  if (config.approverToken) {
    logger.info('approvals: only the approver token (--approver-token) may decide tool calls');
  }
  if (serversText === undefined)
    logger.warn(
      `MCP servers file ${serversPath} is missing: starting without tools (reinstall the package, or name a file with --servers-config).`,
    );
  // Starts the servers for the default directory now, so the first request does not wait for them;
  // the checks run while the server already listens.
  void startupChecks({ settings: { ...config, currentDirectory }, upstream, tools, logger, servers });

  const shutdown = async () => {
    await tools.close();
    await auditLog?.close().catch(() => undefined);
    try {
      await opened.close();
    } catch (error) {
      // Every write was committed already (SQLite copies its log into the file on the next start).
      logger.warn(`sessions: the store could not be closed cleanly: ${(error as Error).message}`);
    }
    await stopTracing?.();
    process.exit(0);
  };
  /** Told the address the server listens on (`http://host:port`): links to the page use it without --public-url. */
  const listening = (address: string) => {
    listenAddress = address;
  };
  return { app, config, logger, tools, shutdown, listening };
}

/** Says at start-up which files configured the server, so an operator sees what a directory did. */
async function logSources(logger: Logger, envFile: LoadedEnvFile | undefined, serversPath: string) {
  if (envFile) {
    logger.info(`env file: settings from ${envFile.path}: ${envFile.settings.join(', ') || '(none)'}`);
  }
  const local = join(process.cwd(), '.env');
  if (
    envFile?.path !== local &&
    (await access(local).then(
      () => true,
      () => false,
    ))
  ) {
    logger.info(
      `env file: not loaded: ${local} (a .env in the working directory is read only when named: --env-file .env)`,
    );
  }
  logger.info(`MCP servers file ${serversPath}`);
}

/** The LLM clients' HTTP client, loaded with the first model call (start-up does not need undici). */
function lazyUndiciFetch(): ModelHttp {
  const load = lazy(async () => (await import('./undici-fetch.js')).createUndiciFetch());
  let loaded: UndiciFetch | undefined;
  return {
    async fetch(input, init) {
      loaded ??= await load();
      return loaded.fetch(input, init);
    },
    rawBody: (response) => loaded?.rawBody(response),
  };
}
