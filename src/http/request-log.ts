import type { Context, MiddlewareHandler } from 'hono';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';

/** An inbound `X-Request-Id` is kept only when it is a plain token: it goes into the log and back out. */
const acceptedRequestId = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Sets a header on the response in place: `c.header()` would copy a finished response, and on
 * Node the copy turns the adapter's lightweight Response of an event stream into two full ones.
 * Only a fetched Response (a session host's answer on Workers) has headers that cannot change;
 * that one is copied.
 */
function setHeader(c: Context, name: string, value: string) {
  try {
    c.res.headers.set(name, value);
  } catch {
    c.header(name, value);
  }
}

/** The id of the request `c` is answering (set by `requestLog`, which runs first). */
export const requestIdOf = (c: Context): string | undefined => c.get('requestId');

/**
 * One `info` line per request: method, path (never the query, which may hold `access_token`),
 * status, duration in ms, the request id, and the session id when the request names it (query or
 * `X-Session-Id`). Never bodies or headers. A stream is logged when its response starts, marked
 * `stream: true`, its duration being the time to that start: a stream may stay open for hours, and
 * the operator should see the request when it happens, not when the client leaves.
 *
 * The request id is the client's `X-Request-Id` when it is a plain token of at most 128 characters,
 * else a new UUID; every response carries it back in `X-Request-Id`, errors and streams included.
 */
export function requestLog(logger: Logger, clock: Clock): MiddlewareHandler {
  return async (c, next) => {
    const started = clock.now();
    const inbound = c.req.header('x-request-id');
    const requestId = inbound !== undefined && acceptedRequestId.test(inbound) ? inbound : crypto.randomUUID();
    c.set('requestId', requestId);
    // Before the handler, so responses made through the context carry it from the start; a
    // Response a handler builds itself (an event stream, a forwarded answer) gets it after.
    c.header('X-Request-Id', requestId);
    await next();
    if (c.res.headers.get('x-request-id') !== requestId) setHeader(c, 'X-Request-Id', requestId);
    const sessionId = c.req.query('session_id') ?? c.req.header('x-session-id');
    const stream = c.res.headers.get('content-type')?.startsWith('text/event-stream') ?? false;
    logger.info('request', {
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      duration_ms: clock.now() - started,
      request_id: requestId,
      ...(stream ? { stream: true } : {}),
      ...(sessionId ? { session_id: sessionId } : {}),
    });
  };
}
