import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { type FakeUpstream, startFakeUpstream } from './fake-upstream.js';

/**
 * Registers the hooks that start a fake upstream before the file's tests (or, with `each`, a fresh one
 * before each test, so that a reply a failed test left queued never reaches the next) and close it
 * after. Returns a handle that always reaches the current one; use it only inside tests and hooks.
 */
export function useFakeUpstream(options: { each?: boolean } = {}): FakeUpstream {
  let current: FakeUpstream | undefined;
  const [before, after] = options.each ? [beforeEach, afterEach] : [beforeAll, afterAll];
  before(async () => {
    current = await startFakeUpstream();
  });
  after(async () => {
    await current?.close();
    current = undefined;
  });
  return new Proxy({} as FakeUpstream, {
    get(_target, key) {
      if (!current) throw new Error('the fake upstream is used outside a test: it is not started');
      return current[key as keyof FakeUpstream];
    },
  });
}
