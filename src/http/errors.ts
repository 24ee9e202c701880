import type { Context, ErrorHandler, MiddlewareHandler, NotFoundHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { AppError, errorBody, toAppError } from '../errors.js';
import type { Logger } from '../logger.js';

/** The error's JSON response; `details.retry_after_seconds`, when set, is also sent as `Retry-After`. */
export function errorResponse(c: Context, error: AppError) {
  const retryAfter = (error.details as { retry_after_seconds?: unknown } | undefined)?.retry_after_seconds;
  if (typeof retryAfter === 'number') c.header('Retry-After', String(retryAfter));
  return c.json(errorBody(error), error.status as ContentfulStatusCode);
}

export function onError(logger: Logger): ErrorHandler {
  return (error, c) => {
    if (error instanceof HTTPException && error.status === 400) {
      // Hono's validator throws this for a body that is not JSON.
      return errorResponse(c, new AppError('invalid_request', 'The request body is not valid JSON.'));
    }
    if (!(error instanceof AppError)) {
      logger.error('unhandled error', { method: c.req.method, path: c.req.path, error: String(error) });
    }
    return errorResponse(c, toAppError(error));
  };
}

/** 404 for unknown paths, 405 with `Allow` for a known path asked with another method. */
export function notFound(routes: () => Array<{ method: string; path: string }>): NotFoundHandler {
  return (c) => {
    const methods = routes()
      .filter((route) => route.path === c.req.path && route.method !== 'ALL')
      .map((route) => route.method);
    if (methods.length > 0) {
      c.header('Allow', [...new Set(methods)].join(', '));
      return errorResponse(c, new AppError('method_not_allowed', `${c.req.method} is not allowed on ${c.req.path}.`));
    }
    return errorResponse(c, new AppError('not_found', `There is no route ${c.req.method} ${c.req.path}.`));
  };
}

/**
 * POST bodies: JSON (415 otherwise) and at most `maxBytes` (413, with or without Content-Length).
 * An empty body stands for `{}`, so `curl -X POST /start_session` works. The body stream is only
 * touched when there is no Content-Length: Node's adapter reads a body fastest left untouched.
 */
export function jsonBodies(maxBytes: number): MiddlewareHandler {
  const tooLarge = () =>
    new AppError('payload_too_large', `The body is larger than ${maxBytes} bytes (--max-body-bytes).`);
  const limit = bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw tooLarge();
    },
  });
  const unsupported = () =>
    new AppError('unsupported_media_type', 'Send the body as JSON with "Content-Type: application/json".');
  return async (c, next) => {
    if (c.req.method !== 'POST') return next();
    const type = c.req.header('content-type');
    const json = type !== undefined && /^application\/(.+\+)?json\s*(;|$)/i.test(type);
    if (type !== undefined && !json) throw unsupported();
    const length = c.req.header('content-length');
    const chunked = c.req.header('transfer-encoding') !== undefined;
    const empty = length === undefined ? !chunked && !c.req.raw.body : length === '0';
    if (empty) {
      const headers = new Headers(c.req.raw.headers);
      headers.delete('content-length');
      headers.set('content-type', 'application/json');
      c.req.raw = new Request(c.req.raw, { body: '{}', headers });
      return next();
    }
    if (!json) throw unsupported();
    if (length !== undefined && !chunked) {
      if (Number(length) > maxBytes) throw tooLarge();
      return next();
    }
    return limit(c, next);
  };
}
