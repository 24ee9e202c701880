import { afterEach, expect } from 'vitest';
import { canaryApiKey, observed } from './helpers/test-app.js';

/** How long a body may take, after its test, to be read to its end. */
const readTimeout = 5000;

/** The whole text of an observed body, or a loud failure: a body that is not read is not checked. */
async function readObserved(body: Promise<string>, which: string): Promise<string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () =>
        reject(new Error(`${which} did not end within ${readTimeout} ms of its test: the canary check cannot read it`)),
      readTimeout,
    );
  });
  try {
    return await Promise.race([body, expired]);
  } catch (error) {
    if (error instanceof Error && error.message.startsWith(which)) throw error;
    throw new Error(`${which} could not be read for the canary check: ${String(error)}`, { cause: error });
  } finally {
    clearTimeout(timer);
  }
}

// No response body, SSE event or log line of any test may contain the API key.
afterEach(async () => {
  const bodies = observed.bodies.splice(0);
  const logs = observed.logs.splice(0);
  const texts = await Promise.all(bodies.map((body, index) => readObserved(body, `response body ${index + 1}`)));
  for (const text of [...texts, ...logs]) expect(text).not.toContain(canaryApiKey);
});
