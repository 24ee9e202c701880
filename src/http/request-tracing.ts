import { context, propagation, SpanKind, SpanStatusCode, type Tracer, trace } from '@opentelemetry/api';
import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';

const headerGetter = {
  keys: (headers: Headers) => [...headers.keys()],
  get: (headers: Headers, key: string) => headers.get(key) ?? undefined,
};

/**
 * A server span per request, a child of the caller's span when it sends a W3C `traceparent` (read
 * by the propagator the SDK registered); the request's work runs in its context. Named and
 * labelled by route pattern, method and status: never the path's query, a header or a body. An
 * event stream's span ends when its response starts.
 */
export function requestTracing(tracer: Tracer): MiddlewareHandler {
  return async (c, next) => {
    const caller = propagation.extract(context.active(), c.req.raw.headers, headerGetter);
    const span = tracer.startSpan(
      c.req.method,
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': c.req.method } },
      caller,
    );
    try {
      await context.with(trace.setSpan(caller, span), next);
    } finally {
      const route = routePath(c, -1);
      if (route !== '*' && route !== '/*' && route !== '') {
        span.updateName(`${c.req.method} ${route}`);
        span.setAttribute('http.route', route);
      }
      span.setAttribute('http.response.status_code', c.res.status);
      if (c.res.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
  };
}
