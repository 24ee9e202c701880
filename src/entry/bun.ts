import { fail, prepareServer } from '../node/prepare-server.js';

declare const Bun: {
  serve(options: {
    fetch: (request: Request) => Response | Promise<Response>;
    hostname: string;
    port: number;
    idleTimeout?: number;
  }): { hostname: string; port: number; stop(): void };
};

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
