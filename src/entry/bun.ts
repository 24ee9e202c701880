import { existsSync } from 'node:fs';
import { fail, prepareServer } from '../node/prepare-server.js';

declare const Bun: {
  serve(options: {
    fetch: (request: Request) => Response | Promise<Response>;
    hostname: string;
    port: number;
    idleTimeout?: number;
  }): { hostname: string; port: number; stop(): void };
};

// Bun loads these from the working directory into the environment before any of our code runs,
// unless started with --no-env-file: settings no one named, from a directory that may be hostile.
const mode = process.env.NODE_ENV ?? 'development';
const autoLoaded = ['.env', '.env.local', `.env.${mode}`, `.env.${mode}.local`].filter((name) => existsSync(name));
if (autoLoaded.length > 0 && !process.execArgv.includes('--no-env-file')) {
  fail(
    `Bun loaded ${autoLoaded.join(', ')} of the working directory into the environment; start it as bun --no-env-file src/entry/bun.ts, and name a file you trust with --env-file.`,
  );
}

const { app, config, logger, shutdown } = await prepareServer();

let server: ReturnType<typeof Bun.serve>;
try {
  // idleTimeout 0: event streams wait on approvals far longer than Bun's default 10 s.
  server = Bun.serve({ fetch: app.fetch, hostname: config.host, port: config.port, idleTimeout: 0 });
} catch (error) {
  fail(`cannot listen on ${config.host}:${config.port} (${(error as Error).message}).`);
}
const host = server.hostname.includes(':') ? `[${server.hostname}]` : server.hostname;
logger.info(`listening on http://${host}:${server.port}`, {
  provider: config.provider,
  model: config.model,
  runtime: 'bun',
});

const stop = () => {
  server.stop();
  void shutdown();
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
