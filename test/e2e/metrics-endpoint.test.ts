import { describe, expect, it } from 'vitest';
import { createHold } from '../helpers/fake-upstream.js';
import { parseSamples, sampleValue } from '../helpers/prometheus-text.js';
import { startServer } from '../helpers/server-process.js';
import { canaryApiKey, temporaryDirectory } from '../helpers/test-app.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

const upstream = useFakeUpstream();
const token = 'metrics-e2e-token';

describe.each(['node', 'bun'] as const)('GET /metrics of the real server on %s', (runtime) => {
  it('serves prom-client text behind the token: a turn, its tokens, the process', async () => {
    const server = await startServer(
      ['--ollama-base-url', upstream.url, '--auth-token', token, '--model', 'e2e-model'],
      { cwd: await temporaryDirectory(), runtime, env: { LLM_API_KEY: canaryApiKey } },
    );
    try {
      const auth = { authorization: `Bearer ${token}` };
      upstream.reply({ text: ['Hi'], usage: { prompt: 7, completion: 1 } });
      const answer = await fetch(`${server.url}/user_request`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ input: 'hello' }),
      });
      expect(answer.status).toBe(200);
      expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
      const response = await fetch(`${server.url}/metrics`, { headers: auth });
      expect(response.status).toBe(200);
      const text = await response.text();
      const samples = parseSamples(text);
      const labels = { provider: 'ollama', model: 'e2e-model' };
      expect(sampleValue(samples, 'llm_chat_turns_started_total', labels)).toBe(1);
      expect(sampleValue(samples, 'llm_chat_tokens_total', { ...labels, type: 'input' })).toBe(7);
      expect(sampleValue(samples, 'process_resident_memory_bytes')).toBeGreaterThan(0);
      expect(text).not.toContain(canaryApiKey);
      expect(text).not.toContain(token);
    } finally {
      await server.stop();
    }
  });

  it('stops counting an event stream when its client goes away, while the turn goes on', async () => {
    const server = await startServer(['--ollama-base-url', upstream.url, '--auth-token', token], {
      cwd: await temporaryDirectory(),
      runtime,
    });
    try {
      const auth = { authorization: `Bearer ${token}` };
      const openStreams = async () =>
        sampleValue(
          parseSamples(await (await fetch(`${server.url}/metrics`, { headers: auth })).text()),
          'llm_chat_open_streams',
        );
      const hold = createHold(1);
      upstream.reply({ text: ['first ', 'second'], holds: [hold] });
      const client = new AbortController();
      const answer = await fetch(`${server.url}/user_request`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify({ input: 'go' }),
        signal: client.signal,
      });
      await answer.body?.getReader().read();
      await hold.reached;
      expect(await openStreams()).toBe(1);
      client.abort();
      // The server learns of the closed socket on its own time: ask until it has (bounded).
      let open = await openStreams();
      for (let asked = 1; open !== 0 && asked < 200; asked += 1) open = await openStreams();
      expect(open).toBe(0);
      hold.release();
      const replay = await fetch(`${server.url}/events`, { headers: { ...auth, 'last-event-id': '1.0' } });
      expect(await replay.text()).toContain('event: done');
    } finally {
      await server.stop();
    }
  });

  it('--no-metrics: no /metrics', async () => {
    const server = await startServer(['--no-metrics'], { cwd: await temporaryDirectory(), runtime });
    try {
      expect((await fetch(`${server.url}/metrics`)).status).toBe(404);
    } finally {
      await server.stop();
    }
  });
});
