import type { Provider } from '../llm/provider.js';
import type { ServerStatus } from '../tools/tool-provider.js';

/**
 * How one run of a turn ended: its answer (`finished`), an error (`failed`), a stop (`stopped`),
 * or a step that now waits on approvals (`awaiting_approval`; the turn goes on after them).
 */
export type TurnRunOutcome = 'finished' | 'failed' | 'stopped' | 'awaiting_approval';

/**
 * Who decided a tool call: a human (`user`: approve, deny, or a stop or new request that denied
 * it), the servers file (`rule`: its autoApprove or deny lists), a `remember: "session"` grant
 * (`grant`), a trusted `readOnlyHint` (`hint`), or nobody in time (`expiry`).
 */
export type DecisionKind = 'user' | 'rule' | 'grant' | 'hint' | 'expiry';

/** A model call's labels: `model` is bounded (see `metricLabels`). */
export interface ModelLabels {
  provider: Provider;
  model: string;
}

/** The Prometheus text of every metric, as `GET /metrics` answers it. */
export interface MetricsScrape {
  contentType: string;
  body: string;
}

/**
 * The port through which the core reports what it does, for a metrics driver to count (the
 * Prometheus one on Node and Bun; `noMetrics` elsewhere). Every label value it is given comes from
 * configuration or a fixed set: a model or tool the configuration does not name arrives as
 * `other`, so the number of series stays bounded whatever clients send. Nothing a user wrote (input,
 * arguments, results, ids) is ever passed. Calls must be cheap and never throw: they run on the
 * request path.
 */
export interface Metrics {
  /** A request was answered: method, route pattern (never the path), status, seconds to the response's start. */
  request(labels: { method: string; route: string; status: number }, seconds: number): void;
  /** An event stream opened (+1) or closed (-1). */
  streams(change: 1 | -1): void;
  /**
   * A model call ended. `outcome` is `ok` or the error code it failed with (`upstream_timeout`,
   * …, `aborted`); tokens are those the provider reported.
   */
  modelCall(
    labels: ModelLabels & { outcome: string },
    measures: { seconds: number; firstTokenSeconds?: number; inputTokens?: number; outputTokens?: number },
  ): void;
  /** A turn started with the user's input. */
  turnStarted(labels: ModelLabels): void;
  /**
   * A run of a turn (its start, or its continuation after approvals) ended; `seconds` is its
   * duration, absent when no run ended it (a stop of a turn waiting on approvals).
   */
  turnRun(labels: ModelLabels & { outcome: TurnRunOutcome }, seconds?: number): void;
  /** A tool call waits for a human (+1), or no longer does (-1). */
  pendingApprovals(change: 1 | -1): void;
  /** A tool call was decided; `waitSeconds` is how long it waited for a human, when it did. */
  decision(labels: { kind: DecisionKind; approved: boolean }, waitSeconds?: number): void;
  /** An MCP tool call ended: `ok`, `error` (an error result, a crash, a timeout) or `aborted`. */
  toolCall(labels: { server: string; tool: string; outcome: 'ok' | 'error' | 'aborted' }, seconds: number): void;
  /** The state of each configured MCP server, as `/health` shows it; told before each scrape. */
  serverStates(states: Readonly<Record<string, ServerStatus>>): void;
  /** The Prometheus text of everything counted; absent where metrics are not served (Workers, `--no-metrics`). */
  scrape?(): Promise<MetricsScrape>;
}

const nothing = () => {};

/** Counts nothing, serves nothing: the default, and what Workers use. */
export const noMetrics: Metrics = {
  request: nothing,
  streams: nothing,
  modelCall: nothing,
  turnStarted: nothing,
  turnRun: nothing,
  pendingApprovals: nothing,
  decision: nothing,
  toolCall: nothing,
  serverStates: nothing,
};
