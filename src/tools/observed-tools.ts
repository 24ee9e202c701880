import { SpanStatusCode, trace } from '@opentelemetry/api';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { MetricLabels } from '../metrics/metric-labels.js';
import type { Metrics } from '../metrics/metrics.js';
import { type Tracing, traceHeaders } from '../tracing/tracing.js';
import type { ToolInfo, ToolProvider } from './tool-provider.js';

/** Where tool calls are counted, and what is told of each listing. */
export interface ToolMeter {
  metrics: Metrics;
  labels: MetricLabels;
  /** Told every listing (the approval metrics read the servers' rules from it). */
  listed?: (tools: readonly ToolInfo[]) => void;
  /**
   * Where each call's span goes (its parent: the run of its signal; it is the parent of what the
   * server does for the call); its arguments and result only with `tracing.content`.
   */
  tracing?: Tracing;
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
      const tracing = meter?.tracing;
      const parent = tracing?.parent(options.signal);
      const span = tracing?.tracer.startSpan(
        `execute_tool ${tool.serverToolName}`,
        {
          attributes: {
            'gen_ai.operation.name': 'execute_tool',
            'gen_ai.tool.name': tool.serverToolName,
            'mcp.method.name': 'tools/call',
            'llm_chat.mcp.server': tool.server,
          },
        },
        parent,
      );
      const headers = span && parent && traceHeaders(trace.setSpan(parent, span));
      if (span && tracing?.content) span.setAttribute('gen_ai.tool.call.arguments', JSON.stringify(args));
      let outcome: 'ok' | 'error' | 'aborted' = 'aborted';
      try {
        const result = await tools.call(
          directory,
          tool,
          args,
          headers ? { ...options, traceHeaders: headers } : options,
        );
        outcome = result.isError ? 'error' : 'ok';
        if (span && tracing?.content) span.setAttribute('gen_ai.tool.call.result', result.content);
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
        if (outcome !== 'ok') {
          span?.setAttribute('error.type', outcome === 'error' ? 'tool_error' : 'aborted');
          span?.setStatus({ code: SpanStatusCode.ERROR });
        }
        span?.end();
      }
    },
  };
}
