import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import type { Clock } from '../clock.js';
import type { Metrics } from '../metrics/metrics.js';

const methods = new Set(['GET', 'POST', 'HEAD', 'OPTIONS', 'PUT', 'PATCH', 'DELETE']);

/**
 * Counts every request by method, route pattern and status (a path no route matches is `none`:
 * paths come from clients), timed to the response's start; keeps the count of open event streams.
 */
export function requestMetrics(metrics: Metrics, clock: Clock): MiddlewareHandler {
  return async (c, next) => {
    const started = clock.now();
    await next();
    const route = routePath(c, -1);
    metrics.request(
      {
        method: methods.has(c.req.method) ? c.req.method : 'other',
        route: route === '*' || route === '/*' || route === '' ? 'none' : route,
        status: c.res.status,
      },
      (clock.now() - started) / 1000,
    );
    if (c.res.body && c.res.headers.get('content-type')?.startsWith('text/event-stream')) {
      c.res = new Response(counted(c.res.body, metrics), c.res);
    }
  };
}

/** `body`, counted among the open streams until it ends or its reader leaves. */
function counted(body: ReadableStream<Uint8Array>, metrics: Metrics): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let open = true;
  const close = () => {
    if (!open) return;
    open = false;
    metrics.streams(-1);
  };
  metrics.streams(1);
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) {
            close();
            controller.close();
          } else controller.enqueue(value);
        } catch (error) {
          close();
          controller.error(error);
        }
      },
      cancel(reason) {
        close();
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}
