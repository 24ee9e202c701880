import { type Context, context, ProxyTracerProvider, propagation, type Tracer, trace } from '@opentelemetry/api';

export interface TracingOptions {
  /**
   * Whether spans record what was said (`--trace-content`): the messages sent to the model and its
   * answer, a tool call's arguments and result. Off: never.
   */
  content?: boolean;
}

/**
 * Spans of the server's work, through `@opentelemetry/api` only: whichever SDK the process
 * registered records them (none: nothing is recorded). A turn's model and tool calls find their
 * parent through the run's AbortSignal, which every call of the run carries, so the span tree is
 * right on every runtime, with or without a context manager. Prompts, answers, tool arguments and
 * results are recorded only with `content`.
 */
export function createTracing(tracer: Tracer, options: TracingOptions = {}) {
  const runs = new WeakMap<AbortSignal, Context>();
  const sessions = new Map<string, Context>();
  return {
    tracer,
    content: options.content === true,
    /** The context of the run `signal` belongs to, else the active one. */
    parent: (signal: AbortSignal): Context => runs.get(signal) ?? context.active(),
    /** The context of the session's run under way, else the active one. */
    sessionParent: (sessionId: string): Context => sessions.get(sessionId) ?? context.active(),
    /** Marks `span` as the run of `sessionId` that `signal` stops; returns the unmarking. */
    enterRun(sessionId: string, signal: AbortSignal, spanContext: Context): () => void {
      runs.set(signal, spanContext);
      sessions.set(sessionId, spanContext);
      return () => {
        if (sessions.get(sessionId) === spanContext) sessions.delete(sessionId);
      };
    },
  };
}

export type Tracing = ReturnType<typeof createTracing>;

/**
 * The W3C trace context (`traceparent`, and `tracestate` when there is one) that makes the span of
 * `spanContext` the parent of what is sent with it, written by the propagator the SDK registered;
 * undefined when that writes nothing (no SDK, or one without a propagator).
 */
export function traceHeaders(spanContext: Context): Record<string, string> | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(spanContext, carrier);
  return Object.keys(carrier).length > 0 ? carrier : undefined;
}

/**
 * The tracer of the SDK the process registered before the server started (for example with
 * `node --import ./otel.mjs`), or undefined when none is: then no span is even made.
 */
export function registeredTracer(version: string): Tracer | undefined {
  const provider = trace.getTracerProvider();
  if (provider instanceof ProxyTracerProvider && !provider.getDelegateTracer('llm-chat-server', version))
    return undefined;
  return trace.getTracer('llm-chat-server', version);
}
