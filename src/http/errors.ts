import type { Context, ErrorHandler, MiddlewareHandler, NotFoundHandler } from 'hono';
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
 * No body at all (Content-Length 0, or neither it nor Transfer-Encoding) stands for `{}`, so
 * `curl -X POST /start_session` works; an empty body sent as another type is still 415. The body
 * stream is only read here when there is no Content-Length: Node's adapter reads a body fastest
 * left untouched, and hands over a stream even when the client sent nothing.
 */
export function jsonBodies(maxBytes: number): MiddlewareHandler {
  const tooLarge = () =>
    new AppError('payload_too_large', `The body is larger than ${maxBytes} bytes (--max-body-bytes).`);
  const unsupported = () =>
    new AppError('unsupported_media_type', 'Send the body as JSON with "Content-Type: application/json".');
  return async (c, next) => {
    if (c.req.method !== 'POST') return next();
    const type = c.req.header('content-type');
    const json = type !== undefined && /^application\/(.+\+)?json\s*(;|$)/i.test(type);
    if (type !== undefined && !json) throw unsupported();
    const length = c.req.header('content-length');
    if (length !== undefined && c.req.header('transfer-encoding') === undefined && length !== '0') {
      if (!json) throw unsupported();
      if (Number(length) > maxBytes) throw tooLarge();
      return next();
    }
    const body = length === '0' ? new Uint8Array() : await readAtMost(c.req.raw.body, maxBytes, tooLarge);
    if (body.byteLength > 0 && !json) throw unsupported();
    const headers = new Headers(c.req.raw.headers);
    headers.delete('content-length');
    headers.delete('transfer-encoding');
    headers.set('content-type', type ?? 'application/json');
    c.req.raw = new Request(c.req.raw, { body: body.byteLength > 0 ? body : '{}', headers });
    return next();
  };
}

async function readAtMost(body: ReadableStream<Uint8Array> | null, maxBytes: number, tooLarge: () => AppError) {
  if (!body) return new Uint8Array();
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (let read = await reader.read(); !read.done; read = await reader.read()) {
    size += read.value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(read.value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
