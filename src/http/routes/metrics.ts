import type { OpenAPIHono } from '@hono/zod-openapi';
import type { MetricsScrape } from '../../metrics/metrics.js';

/**
 * `GET /metrics`: the Prometheus text format, behind the bearer token when one is set. `scrape`
 * brings the gauges read at scrape time (MCP server states, expired approvals) up to date first.
 */
export function metricsRoutes(app: OpenAPIHono, scrape: () => Promise<MetricsScrape>) {
  app.get('/metrics', async (c) => {
    const { contentType, body } = await scrape();
    return c.body(body, 200, { 'Content-Type': contentType, 'Cache-Control': 'no-store' });
  });
}
