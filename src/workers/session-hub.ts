import { AppError, errorBody } from '../errors.js';
import { parseStoredRecord } from '../sessions/session-record.js';
import { createKvStore } from '../store/kv-store.js';
import { createMemoryStore } from '../store/memory-store.js';
import type { SessionStore } from '../store/session-store.js';
import { createTieredStore } from '../store/tiered-store.js';
import { buildWorkerServer, type WorkerServer } from './build-worker-server.js';
import { hubSessionHeader, hubStorePath } from './hub-protocol.js';
import type { WorkerEnvironment } from './worker-environment.js';

/** The answer of a Worker whose settings are wrong: 500, with the detail in the log only. */
export function configurationError(message: string): Response {
  // The detail may quote a value (a secret among them): it goes to the Worker's log only.
  console.error(`configuration error: ${message}`);
  const shown = 'The Worker is not configured right; its log names the setting and the problem.';
  return Response.json(errorBody(new AppError('configuration_error', shown)), { status: 500 });
}

/**
 * A Durable Object that holds one session: every request of that session runs here, so "approve
 * exactly once" holds across the world and streams can wait on approvals. It runs the same app
 * as Node, on the session kept in memory and written through to KV.
 */
export class SessionHub {
  private sessionId = '';
  private readonly server: WorkerServer;

  constructor(_state: unknown, env: WorkerEnvironment) {
    this.server = buildWorkerServer(env, 'hub', {
      store: createTieredStore(createMemoryStore(), createKvStore({ namespace: env.SESSIONS })),
      newSessionId: () => this.sessionId,
    });
  }

  async fetch(request: Request): Promise<Response> {
    this.sessionId ||= request.headers.get(hubSessionHeader) ?? '';
    if ('error' in this.server) return configurationError(this.server.error);
    if (new URL(request.url).pathname === hubStorePath) return this.write(this.server.store, request);
    return this.server.app.fetch(request);
  }

  /** A write of the front's (the default session it made): this hub stays its session's only writer. */
  private async write(store: SessionStore, request: Request): Promise<Response> {
    const body = (await request.json()) as {
      record?: unknown;
      ttlMilliseconds?: number;
      ifRevision?: number;
      delete?: boolean;
    };
    try {
      if (body.delete) await store.delete(this.sessionId);
      else {
        const options = { ttlMilliseconds: Number(body.ttlMilliseconds), ifRevision: body.ifRevision };
        await store.put(parseStoredRecord(body.record), options);
      }
    } catch (error) {
      if (error instanceof AppError && error.code === 'session_conflict') {
        return Response.json(errorBody(error), { status: error.status });
      }
      throw error;
    }
    return new Response(null, { status: 204 });
  }
}
