const traceKeys = ['traceparent', 'tracestate'] as const;

/**
 * `fetch` for the HTTP transports: a message that carries a trace context in `params._meta` (see
 * `callTool`) is sent with it as the W3C headers too, so that the server's HTTP tracing joins the
 * call's trace. Every other request goes out as it is.
 */
export const fetchWithTraceHeaders = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
  const body = init?.body;
  if (typeof body !== 'string' || !body.includes('"traceparent"')) return fetch(input, init);
  const meta = metaOf(body);
  if (typeof meta?.traceparent !== 'string') return fetch(input, init);
  const headers = new Headers(init?.headers);
  for (const key of traceKeys) if (typeof meta[key] === 'string') headers.set(key, meta[key]);
  return fetch(input, { ...init, headers });
};

function metaOf(body: string): Record<string, unknown> | undefined {
  try {
    const meta = JSON.parse(body)?.params?._meta;
    return meta && typeof meta === 'object' ? meta : undefined;
  } catch {
    return undefined;
  }
}
