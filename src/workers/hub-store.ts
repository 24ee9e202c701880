import { AppError } from '../errors.js';
import type { SessionStore } from '../store/session-store.js';
import { hubStorePath, toHub } from './hub-protocol.js';
import type { HubNamespace } from './worker-environment.js';

/**
 * The front Worker's view of the sessions: reads from KV (where every hub writes its session
 * through), writes through the session's hub, so that a hub stays the only writer of its session.
 */
export function createHubStore(options: { kv: SessionStore; hubs: HubNamespace }): SessionStore {
  const { kv, hubs } = options;
  const send = async (id: string, body: unknown) => {
    const request = new Request(`https://hub${hubStorePath}`, { method: 'PUT', body: JSON.stringify(body) });
    const response = await toHub(hubs, id, request);
    if (response.status === 409) {
      const { error } = (await response.json()) as { error: { message: string; details?: unknown } };
      throw new AppError('session_conflict', error.message, error.details);
    }
    if (!response.ok) throw new AppError('internal_error', `The session hub answered ${response.status}.`);
  };
  return {
    get: (id) => kv.get(id),
    put: (record, { ttlMilliseconds, ifRevision }) => send(record.id, { record, ttlMilliseconds, ifRevision }),
    delete: (id) => send(id, { delete: true }),
    getDefaultSessionId: () => kv.getDefaultSessionId(),
    setDefaultSessionId: (id) => kv.setDefaultSessionId(id),
    // The session's hub checks the revision: it is the session's only writer.
    atomicRevisions: true,
  };
}
