import type { Logger } from '../logger.js';
import type { ConnectionOpener, ConnectionStrategy } from './connection-strategy.js';
import type { McpConnection } from './open-mcp-connection.js';
import type { ServerStatus } from './tool-provider.js';

export interface PerCallConnectionsOptions {
  open: ConnectionOpener;
  logger: Logger;
}

/**
 * A connection of its own for every listing and every call, closed on release: a plain Worker
 * cannot use an I/O object across requests. Status is each server's latest outcome.
 */
export function createPerCallConnections(options: PerCallConnectionsOptions): ConnectionStrategy {
  const outcomes = new Map<string, ServerStatus>();
  const openings = new Map<AbortController, Promise<McpConnection>>();
  const connections = new Set<McpConnection>();
  const closing = new Set<Promise<void>>();
  let closed = false;

  const release = async (connection: McpConnection) => {
    if (!connections.delete(connection)) return;
    const done = connection.close();
    closing.add(done);
    await done;
    closing.delete(done);
  };

  return {
    async acquire(name, directory) {
      const cancel = new AbortController();
      if (closed) cancel.abort();
      try {
        const opening = options.open(name, directory, cancel.signal, () => {});
        openings.set(cancel, opening);
        const connection = await opening;
        connections.add(connection);
        if (closed) await release(connection);
        cancel.signal.throwIfAborted();
        outcomes.set(name, 'connected');
        return {
          connection,
          tools: async () => {
            await connection.settled();
            return connection.tools;
          },
          release: () => release(connection),
        };
      } catch (error) {
        outcomes.set(name, 'failed');
        if (!closed) options.logger.warn(`MCP server "${name}" could not be reached`, { error: String(error) });
        return { unavailable: 'not-started', tools: async () => [], release: async () => {} };
      } finally {
        openings.delete(cancel);
      }
    },
    status: (name) => outcomes.get(name) ?? 'idle',
    async close() {
      closed = true;
      for (const cancel of openings.keys()) cancel.abort();
      for (const connection of [...connections]) void release(connection);
      await Promise.allSettled([...openings.values(), ...closing]);
    },
  };
}
