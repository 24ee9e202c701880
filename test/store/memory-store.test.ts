import { createMemoryStore } from '../../src/store/memory-store.js';
import { sessionStoreContract } from './session-store-contract.js';

sessionStoreContract('memory', async () => {
  let time = 1_000_000;
  return {
    store: createMemoryStore({ now: () => time }),
    advance: async (milliseconds) => {
      time += milliseconds;
    },
  };
});
