import type { AppConfig } from '../app-config.js';
import type { Clock } from '../clock.js';
import type { ChatModel } from '../llm/chat-model.js';
import type { Provider } from '../llm/provider.js';
import type { SessionRecord } from '../sessions/session-record.js';
import type { ToolMeter } from '../tools/observed-tools.js';
import type { ToolProvider } from '../tools/tool-provider.js';
import type { Tracing } from '../tracing/tracing.js';
import { approvalMetrics } from './approval-metrics.js';
import { meteredModel } from './metered-model.js';
import { meteredTurns, type TurnObserver } from './metered-turns.js';
import { metricLabels } from './metric-labels.js';
import type { Metrics, MetricsScrape } from './metrics.js';

export interface MeteredParts {
  /** Told of every save and delete of the store, once done (the approvals, read from saves). */
  saves: { saved(record: SessionRecord): void; deleted(id: string): void };
  models: (provider: Provider) => ChatModel;
  toolMeter: ToolMeter;
  observer: TurnObserver;
  /** The scrape of `GET /metrics`, when the driver serves one. */
  scrape?: () => Promise<MetricsScrape>;
}

/**
 * The app's parts with `metrics` counting what they do, and `tracing` tracing it: the store
 * (approvals, read from saves), the models (calls, tokens), the tools (through `toolMeter`) and the
 * turns (through `observer`).
 * Label values are bounded by the configuration: its models and the tools' configured servers.
 */
export function meteredParts(
  metrics: Metrics,
  parts: {
    config: AppConfig;
    clock: Clock;
    models: (provider: Provider) => ChatModel;
    tools: ToolProvider;
    /** Spans of turns, model and tool calls and approval waits, when a tracer is given. */
    tracing?: Tracing;
  },
): MeteredParts {
  const { config, clock, tools, tracing } = parts;
  const labels = metricLabels({
    models: [config.model, ...config.allowedModels],
    servers: Object.keys(tools.status()),
  });
  const approvals = approvalMetrics({ metrics, clock, autoApproveReadOnly: config.autoApproveReadOnly, tracing });
  const models = new Map<Provider, ChatModel>();
  const { scrape } = metrics;
  return {
    saves: { saved: approvals.saved, deleted: approvals.deleted },
    models(provider) {
      let model = models.get(provider);
      if (!model) {
        model = meteredModel(parts.models(provider), metrics, labels, clock, tracing);
        models.set(provider, model);
      }
      return model;
    },
    toolMeter: { metrics, labels, listed: approvals.listed, tracing },
    observer: meteredTurns(metrics, labels, clock, tracing),
    scrape:
      scrape &&
      (() => {
        approvals.sweep();
        metrics.serverStates(tools.status());
        return scrape.call(metrics);
      }),
  };
}
