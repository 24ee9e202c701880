// What the tests in workerd use of the Worker's bindings (wrangler.toml).
declare module 'cloudflare:workers' {
  export const env: { SESSIONS: import('../../src/store/kv-store.js').KvNamespaceLike };
}
