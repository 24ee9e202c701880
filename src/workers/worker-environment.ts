import type { KvNamespaceLike } from '../store/kv-store.js';

/** The part of a Durable Object namespace binding the Worker uses. */
export interface HubNamespace {
  idFromName(name: string): unknown;
  get(id: unknown): { fetch(request: Request): Promise<Response> };
}

/** The Worker's bindings: KV for sessions, optionally the session hubs, and settings as vars and secrets. */
export interface WorkerEnvironment {
  SESSIONS: KvNamespaceLike;
  /** One Durable Object per session: turns run there, so approvals are exactly once and streams wait. */
  SESSION_HUB?: HubNamespace;
  /** servers.json text (the mcpServers format); the bundled config/servers.json when unset. */
  MCP_SERVERS?: string;
  [name: string]: unknown;
}
