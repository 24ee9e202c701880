import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../src/store/memory-store.js';
import { createTieredStore } from '../../src/store/tiered-store.js';
import { sampleRecord, sessionStoreContract } from './session-store-contract.js';

sessionStoreContract(
  'tiered (memory in front of memory)',
  { atomicRevisions: true, events: false, approvals: false },
  async (limits) => {
    let time = 1_000_000;
    const now = () => time;
    return {
      store: createTieredStore(createMemoryStore({ now, ...limits }), createMemoryStore({ now })),
      advance: async (milliseconds) => {
        time += milliseconds;
      },
    };
  },
);

describe('the tiered store', () => {
  it('reads through to the far store once, then from the near one; writes reach both', async () => {
    const near = createMemoryStore();
    const far = createMemoryStore();
    await far.put(sampleRecord('s1', { model: 'far' }), { ttlMilliseconds: 60_000 });
    const store = createTieredStore(near, far);
    expect((await store.get('s1'))?.model).toBe('far');
    expect((await near.get('s1'))?.model).toBe('far');
    await store.put(sampleRecord('s1', { model: 'both' }), { ttlMilliseconds: 60_000 });
    expect((await far.get('s1'))?.model).toBe('both');
  });

  it('reads from the far store when the near one is full', async () => {
    const near = createMemoryStore({ maxSessions: 1 });
    const far = createMemoryStore();
    await near.put(sampleRecord('s0'), { ttlMilliseconds: 60_000 });
    await far.put(sampleRecord('s1', { model: 'far' }), { ttlMilliseconds: 60_000 });
    expect((await createTieredStore(near, far).get('s1'))?.model).toBe('far');
  });
});
