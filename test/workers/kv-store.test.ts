import { env } from 'cloudflare:workers';
import { createKvStore } from '../../src/store/kv-store.js';
import { sessionStoreContract } from '../store/session-store-contract.js';

// Runs inside workerd (the workers pool), against the real KV binding of wrangler.toml.
let namespaces = 0;

sessionStoreContract('Workers KV, in workerd', async () => {
  let time = 1_000_000;
  namespaces += 1;
  return {
    store: createKvStore({ namespace: env.SESSIONS, prefix: `contract-${namespaces}:`, now: () => time }),
    advance: async (milliseconds) => {
      time += milliseconds;
    },
  };
});
