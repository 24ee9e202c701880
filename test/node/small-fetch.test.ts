import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { createUpstreamProbe } from '../../src/llm/upstream-probe.js';
import { smallFetch } from '../../src/node/small-fetch.js';
import { closedPort } from '../helpers/closed-port.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

const upstream = useFakeUpstream();

describe('smallFetch (node:http)', () => {
  it('sends the method, headers and body, and answers with the status, headers and whole body', async () => {
    const response = await smallFetch(`${upstream.url}/api/version`, {
      headers: new Headers({ authorization: 'Bearer probe-key', 'x-two': 'a' }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('application/json');
    expect(await response.json()).toEqual({ version: '0.12.10' });
    const sent = upstream.requests.at(-1);
    expect(sent).toMatchObject({ method: 'GET', path: '/api/version' });
    expect(sent?.headers).toMatchObject({ authorization: 'Bearer probe-key', 'x-two': 'a' });

    const missing = await smallFetch(new URL(`${upstream.url}/nowhere`), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"a":1}',
    });
    expect(missing.status).toBe(404);
    expect(await missing.text()).toBe('404 page not found');
    expect(upstream.requests.at(-1)).toMatchObject({ method: 'POST', path: '/nowhere', body: { a: 1 } });
  });

  it('rejects when nothing listens, and with the reason of its signal when aborted mid-request', async () => {
    await expect(smallFetch(`http://127.0.0.1:${await closedPort()}/`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });

    const received: IncomingMessage[] = [];
    const silent = createServer((request) => received.push(request));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const controller = new AbortController();
    silent.once('request', () => controller.abort(new Error('gave up')));
    try {
      const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/`;
      await expect(smallFetch(url, { signal: controller.signal })).rejects.toThrow('gave up');
      await expect(smallFetch(url, { signal: controller.signal })).rejects.toThrow('gave up');
      expect(received).toHaveLength(1);
    } finally {
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('refuses what it does not do: streamed bodies and other protocols', async () => {
    await expect(smallFetch(`${upstream.url}/`, { method: 'POST', body: new Blob(['x']) })).rejects.toThrow(TypeError);
    await expect(smallFetch('file:///etc/hostname')).rejects.toThrow(TypeError);
  });
});

describe('the upstream probe on smallFetch', () => {
  it.each([
    ['ollama', 'qwen2.5-coder:latest', 'reachable'],
    ['ollama', 'not-pulled', { missingModel: 'not-pulled' }],
    ['openai', 'gpt-4o-mini', 'reachable'],
  ] as const)('%s, model %s: %o, every request through it', async (provider, model, outcome) => {
    const send = vi.fn(smallFetch);
    const probe = createUpstreamProbe({
      provider,
      model,
      ollamaBaseUrl: upstream.url,
      openaiBaseUrl: upstream.openaiUrl,
      fetch: send,
    });
    expect(await probe.check()).toEqual(outcome);
    expect(send).toHaveBeenCalled();
  });

  it('counts an upstream that does not answer as unreachable', async () => {
    const port = await closedPort();
    const probe = createUpstreamProbe({
      provider: 'ollama',
      model: 'qwen2.5-coder:latest',
      ollamaBaseUrl: `http://127.0.0.1:${port}`,
      openaiBaseUrl: `http://127.0.0.1:${port}/v1`,
      fetch: smallFetch,
    });
    expect(await probe.check()).toBe('unreachable');
  });
});
