import type { Clock } from '../clock.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import { watchIteration } from '../watch-iteration.js';
import type { ChatModel } from './chat-model.js';

export interface ModelObserver {
  logger: Logger;
  clock: Clock;
  /** Told whether each call reached the LLM (any event) or could not connect (`upstream_unavailable`). */
  report?: (provider: string, reachable: boolean) => void;
}

/** `model` with one `debug` line per call (provider, model, time to first event, duration, outcome). */
export function observedModel(model: ChatModel, observer: ModelObserver): ChatModel {
  return {
    provider: model.provider,
    stream(request, signal) {
      const started = observer.clock.now();
      let firstEvent: number | undefined;
      return watchIteration(model.stream(request, signal), {
        value() {
          if (firstEvent !== undefined) return;
          firstEvent = observer.clock.now() - started;
          observer.report?.(model.provider, true);
        },
        end(ended) {
          const error = ended.how === 'failed' ? ended.error : undefined;
          if (error instanceof AppError && error.code === 'upstream_unavailable')
            observer.report?.(model.provider, false);
          observer.logger.debug('model call', {
            provider: model.provider,
            model: request.model,
            first_byte_ms: firstEvent ?? null,
            duration_ms: observer.clock.now() - started,
            outcome: ended.how !== 'failed' ? 'ok' : error instanceof AppError ? error.code : 'aborted',
          });
        },
      });
    },
  };
}
