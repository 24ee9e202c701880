import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import type { Clock } from '../clock.js';
import type { Metrics } from '../metrics/metrics.js';

const methods = new Set(['GET', 'POST', 'HEAD', 'OPTIONS', 'PUT', 'PATCH', 'DELETE']);

/**
 * Counts every request by method, route pattern and status (a path no route matches is `none`:
 * paths come from clients), timed to the response's start. (Open event streams are counted where
 * they are made: `createTurnOutput`.)
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
  };
}
