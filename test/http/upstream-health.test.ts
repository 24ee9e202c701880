import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createModels } from '../../src/llm/create-models.js';
import { createUpstreamProbe } from '../../src/llm/upstream-probe.js';
import { createUpstreamStatus } from '../../src/llm/upstream-status.js';
import { silentLogger } from '../../src/logger.js';
import { createManualClock } from '../helpers/manual-clock.js';
import { buildTestApp } from '../helpers/test-app.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

const upstream = useFakeUpstream({ each: true });

async function closedUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

/** An app whose /health reads a probe of `probeUrl` (Ollama) and whose models call `modelUrl`. */
async function appWithProbe(options: { probeUrl: string; modelUrl?: string; interval?: number }) {
  const clock = createManualClock();
  const status = createUpstreamStatus({
    probe: createUpstreamProbe({
      provider: 'ollama',
      model: 'qwen2.5-coder:latest',
      ollamaBaseUrl: options.probeUrl,
      openaiBaseUrl: upstream.openaiUrl,
    }),
    clock,
    interval: options.interval ?? 30_000,
  });
  const ollamaBaseUrl = options.modelUrl ?? upstream.url;
  const models = createModels(
    { ollamaBaseUrl, openaiBaseUrl: upstream.openaiUrl, upstreamTimeout: 120_000 },
    { logger: silentLogger, clock, report: status.report },
  );
  const app = await buildTestApp(upstream, { ollamaBaseUrl }, { dependencies: { clock, upstream: status, models } });
  const health = async () => (await app.app.request('/health')).json();
  return { ...app, clock, status, health };
}

const probes = () => upstream.requests.filter((request) => request.path === '/api/version').length;

describe('/health reports the LLM from a cached probe', () => {
  it('is unknown until the first probe answers, then reachable; reads between refreshes probe nothing', async () => {
    const { health, status, clock } = await appWithProbe({ probeUrl: upstream.url, interval: 30_000 });
    expect(await health()).toMatchObject({ status: 'ok', upstream: 'unknown' });
    await status.refresh();
    for (let read = 0; read < 5; read += 1) {
      expect(await health()).toMatchObject({ status: 'ok', upstream: 'reachable' });
    }
    expect(probes()).toBe(1);
    await clock.advance(29_999);
    await health();
    expect(probes()).toBe(1);
    await clock.advance(1);
    expect(await health()).toMatchObject({ upstream: 'reachable' });
    await status.refresh();
    expect(probes()).toBe(2);
  });

  it('is degraded (still 200) while Ollama does not answer', async () => {
    const { app, status } = await appWithProbe({ probeUrl: await closedUrl() });
    expect(await status.refresh()).toBe('unreachable');
    const response = await app.request('/health');
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'degraded', upstream: 'unreachable' });
  });

  it('counts a model call that cannot connect as unreachable, without a probe', async () => {
    const { post, status, health } = await appWithProbe({ probeUrl: upstream.url, modelUrl: await closedUrl() });
    await status.refresh();
    expect(await health()).toMatchObject({ upstream: 'reachable' });
    const response = await post('/user_request', { input: 'hi' });
    expect(response.status).toBe(503);
    expect(await health()).toMatchObject({ status: 'degraded', upstream: 'unreachable' });
    expect(probes()).toBe(1);
  });

  it('counts a model call that answers as reachable, without a probe', async () => {
    const { post, status, health } = await appWithProbe({ probeUrl: await closedUrl(), modelUrl: upstream.url });
    await status.refresh();
    expect(await health()).toMatchObject({ upstream: 'unreachable' });
    upstream.reply({ text: ['hello'] });
    expect((await post('/user_request', { input: 'hi' })).status).toBe(200);
    expect(await health()).toMatchObject({ status: 'ok', upstream: 'reachable' });
  });
});
