import { afterEach, expect } from 'vitest';
import { canaryApiKey, observed } from './helpers/test-app.js';

// No response body, SSE event or log line of any test may contain the API key.
afterEach(async () => {
  const bodies = observed.bodies.splice(0);
  const logs = observed.logs.splice(0);
  const timeout = new Promise<string>((resolve) => setTimeout(() => resolve(''), 2000).unref());
  const texts = await Promise.all(bodies.map((body) => Promise.race([body.catch(() => ''), timeout])));
  for (const text of [...texts, ...logs]) expect(text).not.toContain(canaryApiKey);
});
