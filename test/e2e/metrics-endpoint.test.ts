import { describe, expect, it } from 'vitest';
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

  it('--no-metrics: no /metrics', async () => {
    const server = await startServer(['--no-metrics'], { cwd: await temporaryDirectory(), runtime });
    try {
      expect((await fetch(`${server.url}/metrics`)).status).toBe(404);
    } finally {
      await server.stop();
    }
  });
});
