import { createKvStore } from '../store/kv-store.js';
import { buildWorkerServer, type WorkerServer } from '../workers/build-worker-server.js';
import { toHub } from '../workers/hub-protocol.js';
import { createHubStore } from '../workers/hub-store.js';
import { configurationError } from '../workers/session-hub.js';
import type { WorkerEnvironment } from '../workers/worker-environment.js';

export { SessionHub } from '../workers/session-hub.js';
export type { WorkerEnvironment } from '../workers/worker-environment.js';

let server: WorkerServer | undefined;

/**
 * The Worker. With SESSION_HUB bound it is the front of the session hubs: it checks each request
 * and hands the routes of a session to that session's Durable Object; without it, sessions live in
 * KV alone (see README).
 */
export default {
  fetch(request: Request, env: WorkerEnvironment, context: unknown): Response | Promise<Response> {
    const hubs = env.SESSION_HUB;
    server ??= hubs
      ? buildWorkerServer(env, 'front', {
          store: createHubStore({ kv: createKvStore({ namespace: env.SESSIONS }), hubs }),
          sessionHost: { forward: (sessionId, forwarded) => toHub(hubs, sessionId, forwarded) },
        })
      : buildWorkerServer(env, 'standalone', { store: createKvStore({ namespace: env.SESSIONS }) });
    if ('error' in server) return configurationError(server.error);
    return server.app.fetch(request, env, context as never);
  },
};
