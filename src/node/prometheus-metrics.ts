import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Metrics } from '../metrics/metrics.js';
import { serverStatuses } from '../tools/tool-provider.js';

export interface PrometheusMetricsOptions {
  /** The process metrics of prom-client (CPU, memory, event loop lag, handles); default true. */
  processMetrics?: boolean;
}

const operation = { gen_ai_operation_name: 'chat' };

/**
 * The metrics driver of Node and Bun: prom-client counters, gauges and histograms, in a registry
 * of their own. The GenAI ones follow the OpenTelemetry semantic conventions
 * (`gen_ai.client.operation.duration`, `gen_ai.client.token.usage`); the rest are `llm_chat_*`.
 */
export function createPrometheusMetrics(options: PrometheusMetricsOptions = {}): Metrics {
  const registers = [new Registry()];
  const [registry] = registers;
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });

  const requests = new Counter({
    name: 'llm_chat_http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status',
    labelNames: ['method', 'route', 'status'],
    registers,
  });
  const requestDuration = new Histogram({
    name: 'llm_chat_http_request_duration_seconds',
    help: "Time to a response's start (an event stream's first byte, not its end), by method and route",
    labelNames: ['method', 'route'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const openStreams = new Gauge({ name: 'llm_chat_open_streams', help: 'Event streams open now', registers });
  const operationDuration = new Histogram({
    name: 'gen_ai_client_operation_duration_seconds',
    help: 'Duration of model calls (GenAI semantic conventions)',
    labelNames: ['gen_ai_operation_name', 'gen_ai_provider_name', 'gen_ai_request_model', 'error_type'],
    buckets: [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92],
    registers,
  });
  const tokenUsage = new Histogram({
    name: 'gen_ai_client_token_usage',
    help: 'Tokens per model call, input or output (GenAI semantic conventions)',
    labelNames: ['gen_ai_operation_name', 'gen_ai_provider_name', 'gen_ai_request_model', 'gen_ai_token_type'],
    buckets: [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304],
    registers,
  });
  const tokens = new Counter({
    name: 'llm_chat_tokens_total',
    help: 'Tokens the LLM reported, by provider, model and type (input, output)',
    labelNames: ['provider', 'model', 'type'],
    registers,
  });
  const firstToken = new Histogram({
    name: 'llm_chat_time_to_first_token_seconds',
    help: 'Time from a model call to its first text or tool call, by provider and model',
    labelNames: ['provider', 'model'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64],
    registers,
  });
  const upstreamErrors = new Counter({
    name: 'llm_chat_upstream_errors_total',
    help: 'Model calls that failed, by provider and error code',
    labelNames: ['provider', 'code'],
    registers,
  });
  const turnsStarted = new Counter({
    name: 'llm_chat_turns_started_total',
    help: "Turns started with a user's input, by provider and model",
    labelNames: ['provider', 'model'],
    registers,
  });
  const turnsEnded = new Counter({
    name: 'llm_chat_turns_ended_total',
    help: 'Turns ended, by provider, model and outcome (finished, failed, stopped)',
    labelNames: ['provider', 'model', 'outcome'],
    registers,
  });
  const turnDuration = new Histogram({
    name: 'llm_chat_turn_duration_seconds',
    help: 'Time a turn ran, from its start or continuation to its end or its next wait for approvals, by outcome (finished, failed, stopped, awaiting_approval)',
    labelNames: ['provider', 'model', 'outcome'],
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320],
    registers,
  });
  const pending = new Gauge({
    name: 'llm_chat_pending_approvals',
    help: 'Tool calls waiting for a human decision now',
    registers,
  });
  const decisions = new Counter({
    name: 'llm_chat_tool_decisions_total',
    help: 'Tool calls decided, by kind (user, rule, grant, hint, expiry) and decision (approved, denied)',
    labelNames: ['kind', 'decision'],
    registers,
  });
  const approvalWait = new Histogram({
    name: 'llm_chat_approval_wait_seconds',
    help: 'Time a tool call waited for a human, by kind (user, expiry) and decision',
    labelNames: ['kind', 'decision'],
    buckets: [1, 5, 15, 30, 60, 120, 300, 900, 1800, 3600, 14400],
    registers,
  });
  const toolCalls = new Counter({
    name: 'llm_chat_mcp_tool_calls_total',
    help: 'MCP tool calls, by server, tool and outcome (ok, error, aborted)',
    labelNames: ['server', 'tool', 'outcome'],
    registers,
  });
  const toolDuration = new Histogram({
    name: 'llm_chat_mcp_tool_call_duration_seconds',
    help: 'Duration of MCP tool calls, by server, tool and outcome',
    labelNames: ['server', 'tool', 'outcome'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers,
  });
  const serverState = new Gauge({
    name: 'llm_chat_mcp_server_state',
    help: 'Each configured MCP server: 1 for its current state (connected, connecting, idle, failed, disabled), 0 for the others',
    labelNames: ['server', 'state'],
    registers,
  });

  return {
    request({ method, route, status }, seconds) {
      requests.inc({ method, route, status });
      requestDuration.observe({ method, route }, seconds);
    },
    streams: (change) => openStreams.inc(change),
    modelCall({ provider, model, outcome }, measures) {
      const gen = { ...operation, gen_ai_provider_name: provider, gen_ai_request_model: model };
      operationDuration.observe(outcome === 'ok' ? gen : { ...gen, error_type: outcome }, measures.seconds);
      if (outcome !== 'ok') upstreamErrors.inc({ provider, code: outcome });
      if (measures.firstTokenSeconds !== undefined) firstToken.observe({ provider, model }, measures.firstTokenSeconds);
      for (const [type, count] of [
        ['input', measures.inputTokens],
        ['output', measures.outputTokens],
      ] as const) {
        if (count === undefined) continue;
        tokenUsage.observe({ ...gen, gen_ai_token_type: type }, count);
        tokens.inc({ provider, model, type }, count);
      }
    },
    turnStarted: (labels) => turnsStarted.inc(labels),
    turnRun(labels, seconds) {
      if (labels.outcome !== 'awaiting_approval') turnsEnded.inc(labels);
      if (seconds !== undefined) turnDuration.observe(labels, seconds);
    },
    pendingApprovals: (change) => pending.inc(change),
    decision({ kind, approved }, waitSeconds) {
      const labels = { kind, decision: approved ? 'approved' : 'denied' };
      decisions.inc(labels);
      if (waitSeconds !== undefined) approvalWait.observe(labels, waitSeconds);
    },
    toolCall(labels, seconds) {
      toolCalls.inc(labels);
      toolDuration.observe(labels, seconds);
    },
    serverStates(states) {
      for (const [server, current] of Object.entries(states)) {
        for (const state of serverStatuses) serverState.set({ server, state }, state === current ? 1 : 0);
      }
    },
    async scrape() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
