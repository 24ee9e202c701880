import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { McpConnection } from './open-mcp-connection.js';
import type { ServerStatus } from './tool-provider.js';

/** Why a lease has no connection. */
export type Unavailable = 'not-started' | 'no-free-connection';

/** One listing's or one call's use of a connection. */
export interface ConnectionLease {
  /** The open connection; absent when there is none to use (see `unavailable`). */
  connection?: McpConnection;
  /** Why there is no connection: the server could not be started, or every connection is busy. */
  unavailable?: Unavailable;
  /**
   * The tools to offer, once any re-listing has settled. Without a connection: during a restart
   * backoff the tools the server had, otherwise none.
   */
  tools(): Promise<Tool[]>;
  /** Ends the use. A pool keeps the connection for later; a per-call strategy closes it. Call once. */
  release(): Promise<void>;
}

/**
 * A listing never waits for a server in its restart backoff (a failing server must not slow every
 * step); a call does.
 */
export type ConnectionPurpose = 'list' | 'call';

/**
 * How MCP connections are held. Where I/O may outlive a request (Node, Bun, a Durable Object) they
 * are pooled per server and working directory; a plain Worker opens and closes one per use.
 */
export interface ConnectionStrategy {
  /**
   * Lends server `name`'s connection for `directory`, opening it if needed. Never rejects: a server
   * that cannot be used gives a lease without a connection.
   */
  acquire(name: string, directory: string, purpose: ConnectionPurpose): Promise<ConnectionLease>;
  /** The server's state for `/health` (never `disabled`: disabled servers are not asked). */
  status(name: string): ServerStatus;
  /** Closes every connection ever opened, including those still opening; later leases have none. */
  close(): Promise<void>;
}

/**
 * Opens server `name`'s connection for `directory`. Aborting `signal` closes it, also while it opens;
 * `onClose` is called if the server ends it.
 */
export type ConnectionOpener = (
  name: string,
  directory: string,
  signal: AbortSignal,
  onClose: () => void,
) => Promise<McpConnection>;
