import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../helpers/server-process.js';
import { canaryApiKey, temporaryDirectory } from '../helpers/test-app.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

const upstream = useFakeUpstream();

interface ExportedSpan {
  name: string;
  traceId: string;
  spanId: string;
  attributes: Array<{ key: string; value: Record<string, unknown> }>;
}

/** A fake OTLP/HTTP collector: keeps every span posted to /v1/traces, with its service's name. */
function createCollector() {
  const spans: Array<ExportedSpan & { service: string }> = [];
  const bodies: string[] = [];
  let changed = () => {};
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      bodies.push(body);
      for (const resourceSpans of JSON.parse(body).resourceSpans ?? []) {
        const service = resourceSpans.resource?.attributes?.find((entry: any) => entry.key === 'service.name')?.value
          ?.stringValue;
        for (const scope of resourceSpans.scopeSpans ?? [])
          for (const span of scope.spans ?? []) spans.push({ ...span, service });
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      changed();
    });
  });
  return {
    spans,
    bodies,
    async listen() {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
    /** Resolves once a span named `name`, of trace `traceId`, has arrived. */
    until(name: string, traceId: string) {
      return new Promise<ExportedSpan & { service: string }>((resolve) => {
        const check = () => {
          const found = spans.find((span) => span.name === name && span.traceId.toLowerCase() === traceId);
          if (found) resolve(found);
        };
        const previous = changed;
        changed = () => {
          previous();
          check();
        };
        check();
      });
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

const collector = createCollector();
let endpoint: string;
beforeAll(async () => {
  endpoint = await collector.listen();
});
afterAll(() => collector.close());

describe.each(['node', 'bun'] as const)('OTEL_EXPORTER_OTLP_ENDPOINT on %s', (runtime) => {
  it("sends the turn's spans over OTLP/HTTP, in the caller's trace (passed on upstream), without the prompt or the key", async () => {
    const server = await startServer(['--ollama-base-url', upstream.url, '--model', `otlp-${runtime}`], {
      cwd: await temporaryDirectory(),
      runtime,
      env: { LLM_API_KEY: canaryApiKey, OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_BSP_SCHEDULE_DELAY: '50' },
    });
    const traceId = runtime === 'node' ? '0af7651916cd43dd8448eb211c80319c' : '1af7651916cd43dd8448eb211c80319c';
    try {
      upstream.reply({ text: ['Hi'], usage: { prompt: 9, completion: 1 } });
      const response = await fetch(`${server.url}/user_request`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-b7ad6b7169203331-01` },
        body: JSON.stringify({ input: 'a secret prompt' }),
      });
      expect(response.status).toBe(200);
      const chat = await collector.until(`chat otlp-${runtime}`, traceId);
      const request = await collector.until('POST /user_request', traceId);
      expect(chat.service).toBe('llm-chat-server');
      expect(request.service).toBe('llm-chat-server');
      expect(chat.attributes).toContainEqual({ key: 'gen_ai.usage.input_tokens', value: { intValue: 9 } });
      // The SDK's W3C propagator sends the trace on: the model call's span is the upstream request's parent.
      expect(upstream.chatRequests().at(-1)?.headers.traceparent).toBe(`00-${traceId}-${chat.spanId.toLowerCase()}-01`);
    } finally {
      await server.stop();
    }
    const sent = collector.bodies.join('\n');
    expect(sent).not.toContain('a secret prompt');
    expect(sent).not.toContain(canaryApiKey);
  });
});
