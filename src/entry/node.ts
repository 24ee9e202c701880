import { serve } from '@hono/node-server';
import { fail, prepareServer } from '../node/prepare-server.js';
import { requestTimeouts } from '../node/request-timeouts.js';
import { socketEventStreams, withSocketStreams } from '../node/socket-streams.js';

// Event streams go straight to the socket (see socket-streams.ts).
const { app, config, logger, shutdown, listening } = await prepareServer({ eventStreams: socketEventStreams });

const options = {
  fetch: withSocketStreams(app.fetch),
  hostname: config.host,
  port: config.port,
  serverOptions: requestTimeouts(config),
};
const server = serve(options, (info) => {
  const host = info.family === 'IPv6' ? `[${info.address}]` : info.address;
  listening(`http://${host}:${info.port}`);
  logger.info(`listening on http://${host}:${info.port}`, { provider: config.provider, model: config.model });
});
server.on('error', (error: NodeJS.ErrnoException) =>
  fail(`cannot listen on ${config.host}:${config.port} (${error.code}).`),
);

const stop = () => {
  server.close();
  void shutdown();
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
