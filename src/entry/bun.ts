import { existsSync } from 'node:fs';
import { fail, prepareServer } from '../node/prepare-server.js';

interface BunServer {
  hostname: string;
  port: number;
  stop(): void;
  /** Sets the idle timeout of one request's connection, in seconds (0: none). */
  timeout(request: Request, seconds: number): void;
}

declare const Bun: {
  serve(options: {
    fetch: (request: Request, server: BunServer) => Response | Promise<Response>;
    hostname: string;
    port: number;
    idleTimeout?: number;
  }): BunServer;
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

const { app, config, logger, shutdown, listening } = await prepareServer();

// Bun has one idle timeout (seconds, at most 255) for the whole request; once the request is read
// it is lifted, so a response (an event stream waiting on approvals) may take as long as it needs.
const idleTimeout = Math.min(255, Math.ceil(Math.max(config.headersTimeout, config.requestTimeout) / 1000));

function fetch(request: Request, server: BunServer) {
  const unlimited = () => server.timeout(request, 0);
  if (!request.body) {
    unlimited();
    return app.fetch(request);
  }
  const body = request.body.pipeThrough(new TransformStream({ flush: unlimited }));
  return app.fetch(new Request(request, { body, duplex: 'half' } as RequestInit));
}

let server: BunServer;
try {
  server = Bun.serve({ fetch, hostname: config.host, port: config.port, idleTimeout });
} catch (error) {
  fail(`cannot listen on ${config.host}:${config.port} (${(error as Error).message}).`);
}
const host = server.hostname.includes(':') ? `[${server.hostname}]` : server.hostname;
listening(`http://${host}:${server.port}`);
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
