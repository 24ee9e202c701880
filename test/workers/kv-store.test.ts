import { env } from 'cloudflare:workers';
import { createKvStore } from '../../src/store/kv-store.js';
import { createMemoryStore } from '../../src/store/memory-store.js';
import { createTieredStore } from '../../src/store/tiered-store.js';
import { sessionStoreContract } from '../store/session-store-contract.js';

// Runs inside workerd (the workers pool), against the real KV binding of wrangler.toml.
let namespaces = 0;

sessionStoreContract(
  'Workers KV, in workerd',
  { atomicRevisions: false, events: false, approvals: false },
  async () => {
    let time = 1_000_000;
    namespaces += 1;
    return {
      store: createKvStore({ namespace: env.SESSIONS, prefix: `contract-${namespaces}:`, now: () => time }),
      advance: async (milliseconds) => {
        time += milliseconds;
      },
    };
  },
);

// What a session hub (Durable Object) uses: memory in front of KV.
sessionStoreContract(
  'memory in front of Workers KV, in workerd',
  { atomicRevisions: true, events: false, approvals: false },
  async (limits) => {
    let time = 1_000_000;
    namespaces += 1;
    const now = () => time;
    return {
      store: createTieredStore(
        createMemoryStore({ now, ...limits }),
        createKvStore({ namespace: env.SESSIONS, prefix: `tiered-${namespaces}:`, now }),
      ),
      advance: async (milliseconds) => {
        time += milliseconds;
      },
    };
  },
);
