import type { Clock } from '../clock.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
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
    async *stream(request, signal) {
      const started = observer.clock.now();
      let firstEvent: number | undefined;
      let outcome = 'ok';
      try {
        for await (const event of model.stream(request, signal)) {
          if (firstEvent === undefined) {
            firstEvent = observer.clock.now() - started;
            observer.report?.(model.provider, true);
          }
          yield event;
        }
      } catch (error) {
        outcome = error instanceof AppError ? error.code : 'aborted';
        if (error instanceof AppError && error.code === 'upstream_unavailable')
          observer.report?.(model.provider, false);
        throw error;
      } finally {
        observer.logger.debug('model call', {
          provider: model.provider,
          model: request.model,
          first_byte_ms: firstEvent ?? null,
          duration_ms: observer.clock.now() - started,
          outcome,
        });
      }
    },
  };
}
