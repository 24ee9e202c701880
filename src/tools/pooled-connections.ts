import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../logger.js';
import type {
  ConnectionLease,
  ConnectionOpener,
  ConnectionPurpose,
  ConnectionStrategy,
  Unavailable,
} from './connection-strategy.js';
import type { McpConnection } from './open-mcp-connection.js';

export interface PooledConnectionsOptions {
  open: ConnectionOpener;
  logger: Logger;
  /** Open or opening connections at most, over all servers and directories: each stdio one is a process. */
  maxConnections: number;
  /** The clock of the restart backoff (milliseconds). */
  now: () => number;
}

interface Entry {
  name: string;
  directory: string;
  connection?: McpConnection;
  opening?: Promise<void>;
  /** Aborts the opening (on close). */
  cancel?: AbortController;
  /** The tools of the last connection, offered during a restart backoff. */
  tools: Tool[];
  /** Listings and calls using the entry: an entry in use is never evicted. */
  users: number;
  lastUsed: number;
  failures: number;
  retryAt: number;
}

const backoff = (failures: number) => Math.min(250 * 2 ** (failures - 1), 10_000);

const sleep = (milliseconds: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const stop = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', stop);
      resolve();
    }, milliseconds);
    signal.addEventListener('abort', stop, { once: true });
  });

/**
 * One connection per server and working directory, kept for later requests. When every slot is
 * taken, the least recently used idle connection is closed to make room; an entry that is opening
 * or in use never is, and with no idle one the server is left out rather than the cap exceeded.
 */
export function createPooledConnections(options: PooledConnectionsOptions): ConnectionStrategy {
  const { open, logger, maxConnections, now } = options;
  const entries = new Map<string, Entry>();
  const evicted = new Set<Promise<void>>();
  let closed = false;
  let uses = 0;

  const holdsSlot = (entry: Entry) => Boolean(entry.connection || entry.opening);

  const prune = () => {
    const time = now();
    for (const [key, entry] of entries) {
      if (!holdsSlot(entry) && entry.users === 0 && entry.retryAt <= time) entries.delete(key);
    }
  };

  /** Resolves when a slot is free (an evicted connection's, once it is closed); undefined if none can be. */
  const takeSlot = (): Promise<void> | undefined => {
    const holders = [...entries].filter(([, entry]) => holdsSlot(entry));
    if (holders.length < maxConnections) return Promise.resolve();
    const idle = holders.filter(([, entry]) => entry.connection && !entry.opening && entry.users === 0);
    if (idle.length === 0) return undefined;
    const [key, victim] = idle.reduce((least, next) => (next[1].lastUsed < least[1].lastUsed ? next : least));
    entries.delete(key);
    const closing = victim.connection?.close() ?? Promise.resolve();
    evicted.add(closing);
    void closing.finally(() => evicted.delete(closing));
    return closing;
  };

  const closedByServer = (entry: Entry, connection: McpConnection) => {
    if (entry.connection !== connection) return;
    entry.tools = connection.tools;
    entry.connection = undefined;
    entry.failures += 1;
    entry.retryAt = now() + backoff(entry.failures);
    logger.warn(`MCP server "${entry.name}" closed its connection; it restarts on next use.`);
  };

  async function start(key: string, entry: Entry, slot: Promise<void>, delay: number): Promise<void> {
    entry.cancel = new AbortController();
    const { signal } = entry.cancel;
    try {
      await slot;
      if (delay > 0) await sleep(delay, signal);
      const connection: McpConnection = await open(entry.name, entry.directory, signal, () =>
        closedByServer(entry, connection),
      );
      if (entries.get(key) !== entry || closed) {
        await connection.close();
        return;
      }
      entry.connection = connection;
      entry.failures = 0;
    } catch (error) {
      if (closed) return;
      entry.failures += 1;
      entry.retryAt = now() + backoff(entry.failures);
      logger.warn(`MCP server "${entry.name}" could not be started`, { error: String(error) });
    } finally {
      entry.opening = undefined;
      entry.cancel = undefined;
    }
  }

  const lease = (entry: Entry, unavailable: Unavailable = 'not-started'): ConnectionLease => {
    const { connection } = entry;
    return {
      connection,
      unavailable: connection ? undefined : unavailable,
      tools: async () => {
        if (!connection) return entry.tools;
        await connection.settled();
        return connection.tools;
      },
      release: async () => {
        entry.users -= 1;
      },
    };
  };

  return {
    async acquire(name, directory, purpose: ConnectionPurpose) {
      if (closed) return lease({ name, directory, tools: [], users: 1, lastUsed: 0, failures: 0, retryAt: 0 });
      const key = `${name}\u0000${directory}`;
      let entry = entries.get(key);
      if (!entry) {
        prune();
        entry = { name, directory, tools: [], users: 0, lastUsed: 0, failures: 0, retryAt: 0 };
        entries.set(key, entry);
      }
      entry.users += 1;
      entry.lastUsed = ++uses;
      if (!holdsSlot(entry)) {
        const delay = entry.retryAt - now();
        if (delay > 0 && purpose === 'list') return lease(entry);
        const slot = takeSlot();
        if (!slot) {
          logger.warn(
            `MCP server "${name}" is left out for ${directory}: all ${maxConnections} MCP connections are in use.`,
          );
          return lease(entry, 'no-free-connection');
        }
        entry.opening = start(key, entry, slot, delay);
      }
      await entry.opening;
      return lease(entry);
    },

    status(name) {
      const mine = [...entries.values()].filter((entry) => entry.name === name);
      if (mine.some((entry) => entry.connection)) return 'connected';
      if (mine.some((entry) => entry.failures > 0)) return 'failed';
      return 'connecting';
    },

    async close() {
      closed = true;
      const all = [...entries.values()];
      entries.clear();
      for (const entry of all) entry.cancel?.abort();
      await Promise.allSettled([
        ...all.map((entry) => entry.opening),
        ...all.map((entry) => entry.connection?.close()),
        ...evicted,
      ]);
    },
  };
}
