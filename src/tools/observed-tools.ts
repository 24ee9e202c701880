import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { MetricLabels } from '../metrics/metric-labels.js';
import type { Metrics } from '../metrics/metrics.js';
import type { ToolInfo, ToolProvider } from './tool-provider.js';

/** Where tool calls are counted, and what is told of each listing. */
export interface ToolMeter {
  metrics: Metrics;
  labels: MetricLabels;
  /** Told every listing (the approval metrics read the servers' rules from it). */
  listed?: (tools: readonly ToolInfo[]) => void;
}

/**
 * `tools` with one `debug` line per tool call: server, tool, duration, outcome (`ok`, `error`,
 * `aborted`); with `meter`, each call is counted too.
 */
export function observedTools(tools: ToolProvider, logger: Logger, clock: Clock, meter?: ToolMeter): ToolProvider {
  return {
    async list(directory) {
      const listed = await tools.list(directory);
      meter?.listed?.(listed);
      return listed;
    },
    status: () => tools.status(),
    close: () => tools.close(),
    async call(directory, tool, args, options) {
      const started = clock.now();
      let outcome: 'ok' | 'error' | 'aborted' = 'aborted';
      try {
        const result = await tools.call(directory, tool, args, options);
        outcome = result.isError ? 'error' : 'ok';
        return result;
      } finally {
        const duration = clock.now() - started;
        logger.debug('tool call', { server: tool.server, tool: tool.serverToolName, duration_ms: duration, outcome });
        meter?.metrics.toolCall(
          {
            server: meter.labels.server(tool.server),
            tool: meter.labels.tool(tool.server, tool.serverToolName),
            outcome,
          },
          duration / 1000,
        );
      }
    },
  };
}
