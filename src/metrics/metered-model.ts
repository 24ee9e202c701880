import type { Clock } from '../clock.js';
import { AppError } from '../errors.js';
import type { ChatModel } from '../llm/chat-model.js';
import type { MetricLabels } from './metric-labels.js';
import type { Metrics } from './metrics.js';

/** `model` with each call counted: duration, time to its first text or tool call, tokens, outcome. */
export function meteredModel(model: ChatModel, metrics: Metrics, labels: MetricLabels, clock: Clock): ChatModel {
  return {
    provider: model.provider,
    async *stream(request, signal) {
      const started = clock.now();
      let firstToken: number | undefined;
      let inputTokens: number | undefined;
      let outputTokens: number | undefined;
      let outcome = 'aborted';
      try {
        for await (const event of model.stream(request, signal)) {
          if (firstToken === undefined && event.type !== 'finish') firstToken = clock.now() - started;
          if (event.type === 'finish' && event.usage) {
            inputTokens = event.usage.prompt_tokens;
            outputTokens = event.usage.completion_tokens;
          }
          yield event;
        }
        outcome = 'ok';
      } catch (error) {
        if (error instanceof AppError) outcome = error.code;
        throw error;
      } finally {
        metrics.modelCall(
          { provider: model.provider, model: labels.model(request.model), outcome },
          {
            seconds: (clock.now() - started) / 1000,
            firstTokenSeconds: firstToken === undefined ? undefined : firstToken / 1000,
            inputTokens,
            outputTokens,
          },
        );
      }
    },
  };
}
