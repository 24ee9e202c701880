import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import type { TurnEvent } from '../chat/turn-events.js';
import type { Clock } from '../clock.js';
import type { SessionRecord } from '../sessions/session-record.js';
import type { Tracing } from '../tracing/tracing.js';
import { watchIteration } from '../watch-iteration.js';
import type { MetricLabels } from './metric-labels.js';
import type { Metrics, TurnRunOutcome } from './metrics.js';

/**
 * What the turn service tells of its turns, for metrics and traces. Every call is made under the
 * session's lock, at the moment it names; none may throw.
 */
export interface TurnObserver {
  /** A turn starts with the user's input (its first run follows). */
  started(session: SessionRecord): void;
  /** A run of the session's turn, its start or a continuation: returns `events`, observed. */
  run(session: SessionRecord, events: AsyncGenerator<TurnEvent>, signal: AbortSignal): AsyncGenerator<TurnEvent>;
  /** A turn waiting on approvals was ended by a stop (no run carries its end). */
  stoppedWaiting(session: SessionRecord): void;
}

/** How a run ended, from its last event. */
export function runOutcome(event: TurnEvent | undefined): TurnRunOutcome {
  if (event?.event !== 'done') return 'failed';
  if (event.data.stopped) return 'stopped';
  return event.data.requires_approval ? 'awaiting_approval' : 'finished';
}

/**
 * Turns counted (started, and each run's duration and outcome, by provider and bounded model)
 * and, with `tracing`, a span per run: the parent of its model and tool calls' spans.
 */
export function meteredTurns(metrics: Metrics, labels: MetricLabels, clock: Clock, tracing?: Tracing): TurnObserver {
  const of = (session: SessionRecord) => ({ provider: session.provider, model: labels.model(session.model) });
  return {
    started: (session) => metrics.turnStarted(of(session)),
    run(session, events, signal) {
      const started = clock.now();
      const turnLabels = of(session);
      const span = tracing?.tracer.startSpan('turn', {
        attributes: { 'gen_ai.provider.name': session.provider, 'gen_ai.request.model': session.model },
      });
      const leave = span && tracing?.enterRun(session.id, signal, trace.setSpan(context.active(), span));
      let last: TurnEvent | undefined;
      return watchIteration(events, {
        value(event) {
          last = event;
        },
        end() {
          const outcome = runOutcome(last);
          metrics.turnRun({ ...turnLabels, outcome }, (clock.now() - started) / 1000);
          if (!span) return;
          leave?.();
          span.setAttribute('llm_chat.turn.outcome', outcome);
          if (last?.event === 'error') {
            span.setAttribute('error.type', last.data.error.code);
            span.setStatus({ code: SpanStatusCode.ERROR });
          }
          span.end();
        },
      });
    },
    stoppedWaiting: (session) => metrics.turnRun({ ...of(session), outcome: 'stopped' }),
  };
}
