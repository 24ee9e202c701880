import type { Config } from '../config/schema.js';
import { deferredMetrics } from '../metrics/deferred-metrics.js';
import type { Metrics } from '../metrics/metrics.js';

/**
 * The Prometheus metrics of Node and Bun, unless --no-metrics; prom-client is loaded on first use,
 * not at start-up.
 */
export function nodeMetrics(config: Pick<Config, 'metrics'>): Metrics | undefined {
  if (!config.metrics) return undefined;
  return deferredMetrics(() => import('./prometheus-metrics.js').then((driver) => driver.createPrometheusMetrics()));
}
