import { readFile, realpath, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import packageJson from '../../package.json' with { type: 'json' };
import { composeServer } from '../compose-server.js';
import { isLoopback } from '../http/security.js';
import { createMemoryStore } from '../store/memory-store.js';
import { parseServersConfig, type ServersConfig } from '../tools/servers-config.js';
import { createNodeDirectoryGuard } from './directory-guard.js';
import { loadConfig } from './load-config.js';
import { createStdioStarter } from './stdio-transport.js';

export function fail(message: string): never {
  process.stderr.write(`llm-chat-server: ${message}\n`);
  process.exit(2);
}

/**
 * Everything the Node and Bun entries share: configuration from flags, env and `.env` (exit 2 on a
 * bad value), the MCP servers of servers.json, and the app. The entries only listen.
 */
export async function prepareServer() {
  const dotenv = await readFile('.env', 'utf8').catch(() => undefined);
  const loaded = loadConfig({ argv: process.argv.slice(2), env: process.env, dotenv, cwd: process.cwd() });
  if (loaded.kind === 'help') {
    process.stdout.write(`${loaded.text}\n`);
    process.exit(0);
  }
  if (loaded.kind === 'error') fail(loaded.message);
  const { config, explicit } = loaded;
  const currentDirectory = await realpath(config.currentDirectory ?? process.cwd()).catch(() =>
    fail(`--current-directory: "${config.currentDirectory}" does not exist.`),
  );

  if (!isLoopback(config.host) && !config.authToken) {
    fail(`--host ${config.host} is not a loopback address; set --auth-token (or AUTH_TOKEN) to bind it.`);
  }
  const directory = await stat(currentDirectory).catch(() => undefined);
  if (!directory?.isDirectory()) fail(`--current-directory: "${currentDirectory}" is not an existing directory.`);
  const serversPath = resolve(config.serversConfig);
  const serversText = await readFile(serversPath, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (explicit.has('serversConfig')) {
      fail(`--servers-config: cannot read "${config.serversConfig}" (${error.code}); fix the path or leave it unset.`);
    }
    return undefined;
  });
  let servers: ServersConfig = {};
  try {
    servers = serversText === undefined ? {} : parseServersConfig(serversText, config.serversConfig);
  } catch (error) {
    fail((error as Error).message);
  }

  const { app, tools, logger } = composeServer({
    config: { ...config, currentDirectory },
    servers,
    variables: { ...process.env, CONFIG_DIR: dirname(serversPath) },
    write: (line) => process.stderr.write(`${line}\n`),
    store: createMemoryStore({ maxSessions: config.maxSessions }),
    directories: createNodeDirectoryGuard({ base: process.cwd(), roots: [currentDirectory, ...config.allowDirectory] }),
    version: packageJson.version,
    stdio: createStdioStarter,
  });
  // Start the servers for the default directory now, so the first request does not wait for them.
  void tools.list(currentDirectory);

  const shutdown = async () => {
    await tools.close();
    process.exit(0);
  };
  return { app, config, logger, tools, shutdown };
}
