import type { Config } from '../config/schema.js';

/**
 * Options of Node's http server that bound how long a client may take to send its request (its
 * headers, then all of it), so a slow client cannot hold a connection. Node stops counting once a
 * request is fully received: a response, a stream waiting on approvals included, is not limited.
 */
export function requestTimeouts(config: Pick<Config, 'headersTimeout' | 'requestTimeout'>) {
  const limits = [config.headersTimeout, config.requestTimeout].filter((limit) => limit > 0);
  return {
    headersTimeout: config.headersTimeout,
    requestTimeout: config.requestTimeout,
    // How often Node checks the limits: its default, 30 s, would triple a 10 s one.
    connectionsCheckingInterval: limits.length ? Math.min(1000, Math.max(50, Math.min(...limits) / 4)) : 30_000,
  };
}
