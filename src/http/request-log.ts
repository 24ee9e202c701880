import type { MiddlewareHandler } from 'hono';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';

/**
 * One `info` line per request: method, path (never the query, which may hold `access_token`),
 * status, duration in ms, and the session id when the request names it (query or `X-Session-Id`).
 * Never bodies or headers. A stream is logged when its response starts, marked `stream: true`, its
 * duration being the time to that start: a stream may stay open for hours, and the operator should
 * see the request when it happens, not when the client leaves.
 */
export function requestLog(logger: Logger, clock: Clock): MiddlewareHandler {
  return async (c, next) => {
    const started = clock.now();
    await next();
    const sessionId = c.req.query('session_id') ?? c.req.header('x-session-id');
    const stream = c.res.headers.get('content-type')?.startsWith('text/event-stream') ?? false;
    logger.info('request', {
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      duration_ms: clock.now() - started,
      ...(stream ? { stream: true } : {}),
      ...(sessionId ? { session_id: sessionId } : {}),
    });
  };
}
