/**
 * Whether traces are to be sent with OTLP, by the standard variables: an endpoint set, and
 * neither `OTEL_SDK_DISABLED=true` nor `OTEL_TRACES_EXPORTER=none`.
 */
export function otlpConfigured(env: Record<string, string | undefined>): boolean {
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
  return Boolean(endpoint) && env.OTEL_SDK_DISABLED !== 'true' && env.OTEL_TRACES_EXPORTER !== 'none';
}

/**
 * Registers an OpenTelemetry tracer provider that sends spans in batches over OTLP/HTTP (JSON) to
 * `OTEL_EXPORTER_OTLP_ENDPOINT` (the exporter reads the other `OTEL_EXPORTER_OTLP_*` and
 * `OTEL_BSP_*` variables itself), with the AsyncLocalStorage context manager and the W3C
 * propagator. The SDK is loaded only then, never otherwise. Returns what flushes and stops it.
 */
export async function startNodeTracing(
  env: Record<string, string | undefined>,
  version: string,
): Promise<(() => Promise<void>) | undefined> {
  if (!otlpConfigured(env)) return undefined;
  const [{ BatchSpanProcessor, NodeTracerProvider }, { OTLPTraceExporter }, { resourceFromAttributes }] =
    await Promise.all([
      import('@opentelemetry/sdk-trace-node'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/resources'),
    ]);
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      'service.name': env.OTEL_SERVICE_NAME || 'llm-chat-server',
      'service.version': version,
    }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  provider.register();
  return () => provider.shutdown();
}
