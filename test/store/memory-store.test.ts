import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../src/store/memory-store.js';
import { sampleRecord, sessionStoreContract } from './session-store-contract.js';

sessionStoreContract('memory', async () => {
  let time = 1_000_000;
  return {
    store: createMemoryStore({ now: () => time }),
    advance: async (milliseconds) => {
      time += milliseconds;
    },
  };
});

describe('the memory store', () => {
  it('keeps at most maxSessions, dropping the one saved longest ago', async () => {
    const store = createMemoryStore({ maxSessions: 3 });
    for (const id of ['a', 'b', 'c']) await store.put(sampleRecord(id), { ttlMilliseconds: 60_000 });
    await store.put(sampleRecord('a'), { ttlMilliseconds: 60_000 });
    await store.put(sampleRecord('d'), { ttlMilliseconds: 60_000 });
    expect(await store.get('b')).toBeUndefined();
    for (const id of ['a', 'c', 'd']) expect(await store.get(id)).toBeDefined();
  });
});
