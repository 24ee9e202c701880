import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../src/store/memory-store.js';
import { sampleRecord, sessionStoreContract } from './session-store-contract.js';

sessionStoreContract('memory', { atomicRevisions: true, events: false, approvals: true }, async (limits) => {
  let time = 1_000_000;
  return {
    store: createMemoryStore({ now: () => time, ...limits }),
    advance: async (milliseconds) => {
      time += milliseconds;
    },
  };
});

describe('the memory store', () => {
  it('keeps at most maxSessions, refusing a new one until the one saved longest ago expires', async () => {
    let time = 1_000_000;
    const store = createMemoryStore({ maxSessions: 3, now: () => time });
    for (const id of ['a', 'b', 'c']) {
      await store.put(sampleRecord(id), { ttlMilliseconds: 60_000 });
      time += 10_000;
    }
    await store.put(sampleRecord('a'), { ttlMilliseconds: 60_000 });
    await expect(store.put(sampleRecord('d'), { ttlMilliseconds: 60_000 })).rejects.toMatchObject({
      code: 'too_many_sessions',
      details: { retry_after_seconds: 40 },
    });
    for (const id of ['a', 'b', 'c']) expect(await store.get(id)).toBeDefined();
    time += 40_000;
    await store.put(sampleRecord('d'), { ttlMilliseconds: 60_000 });
    expect(await store.get('b')).toBeUndefined();
    for (const id of ['a', 'c', 'd']) expect(await store.get(id)).toBeDefined();
  });
});
