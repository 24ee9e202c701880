import { type Context, context, ProxyTracerProvider, type Tracer, trace } from '@opentelemetry/api';

/**
 * Spans of the server's work, through `@opentelemetry/api` only: whichever SDK the process
 * registered records them (none: nothing is recorded). A turn's model and tool calls find their
 * parent through the run's AbortSignal, which every call of the run carries, so the span tree is
 * right on every runtime, with or without a context manager. Prompts, answers, tool arguments and
 * results are never recorded.
 */
export function createTracing(tracer: Tracer) {
  const runs = new WeakMap<AbortSignal, Context>();
  const sessions = new Map<string, Context>();
  return {
    tracer,
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
 * The tracer of the SDK the process registered before the server started (for example with
 * `node --import ./otel.mjs`), or undefined when none is: then no span is even made.
 */
export function registeredTracer(version: string): Tracer | undefined {
  const provider = trace.getTracerProvider();
  if (provider instanceof ProxyTracerProvider && !provider.getDelegateTracer('llm-chat-server', version))
    return undefined;
  return trace.getTracer('llm-chat-server', version);
}
