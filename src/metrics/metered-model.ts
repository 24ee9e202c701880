import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Clock } from '../clock.js';
import { AppError } from '../errors.js';
import type { ChatModel, ToolCall } from '../llm/chat-model.js';
import { inputMessages, outputMessages } from '../tracing/content-attributes.js';
import { type Tracing, traceHeaders } from '../tracing/tracing.js';
import { watchIteration } from '../watch-iteration.js';
import type { MetricLabels } from './metric-labels.js';
import type { Metrics } from './metrics.js';

/**
 * `model` with each call counted (duration, time to its first text or tool call, tokens, outcome)
 * and, with `tracing`, a client span per call with the GenAI attributes, the parent of the upstream
 * request (its trace context is sent along); the messages and the answer only with `tracing.content`.
 */
export function meteredModel(
  model: ChatModel,
  metrics: Metrics,
  labels: MetricLabels,
  clock: Clock,
  tracing?: Tracing,
): ChatModel {
  return {
    provider: model.provider,
    stream(request, signal) {
      const started = clock.now();
      const parent = tracing?.parent(signal);
      const span = tracing?.tracer.startSpan(
        `chat ${request.model}`,
        {
          kind: SpanKind.CLIENT,
          attributes: {
            'gen_ai.operation.name': 'chat',
            'gen_ai.provider.name': model.provider,
            'gen_ai.request.model': request.model,
            'gen_ai.request.temperature': request.temperature,
          },
        },
        parent,
      );
      const headers = span && parent && traceHeaders(trace.setSpan(parent, span));
      const content = span && tracing?.content ? { text: '', calls: [] as ToolCall[] } : undefined;
      if (content) span?.setAttribute('gen_ai.input.messages', inputMessages(request.messages));
      let firstToken: number | undefined;
      let inputTokens: number | undefined;
      let outputTokens: number | undefined;
      const events = model.stream(headers ? { ...request, traceHeaders: headers } : request, signal);
      return watchIteration(events, {
        value(event) {
          if (firstToken === undefined && event.type !== 'finish') firstToken = clock.now() - started;
          if (event.type === 'finish') {
            inputTokens = event.usage?.prompt_tokens;
            outputTokens = event.usage?.completion_tokens;
            span?.setAttribute('gen_ai.response.finish_reasons', [event.reason]);
            if (content)
              span?.setAttribute('gen_ai.output.messages', outputMessages(content.text, content.calls, event.reason));
          } else if (content) {
            if (event.type === 'text') content.text += event.text;
            else content.calls.push(event.call);
          }
        },
        end(ended) {
          const outcome =
            ended.how === 'completed'
              ? 'ok'
              : ended.how === 'failed' && ended.error instanceof AppError
                ? ended.error.code
                : 'aborted';
          metrics.modelCall(
            { provider: model.provider, model: labels.model(request.model), outcome },
            {
              seconds: (clock.now() - started) / 1000,
              firstTokenSeconds: firstToken === undefined ? undefined : firstToken / 1000,
              inputTokens,
              outputTokens,
            },
          );
          if (!span) return;
          if (inputTokens !== undefined) span.setAttribute('gen_ai.usage.input_tokens', inputTokens);
          if (outputTokens !== undefined) span.setAttribute('gen_ai.usage.output_tokens', outputTokens);
          if (outcome !== 'ok') {
            span.setAttribute('error.type', outcome);
            span.setStatus({ code: SpanStatusCode.ERROR });
          }
          span.end();
        },
      });
    },
  };
}
