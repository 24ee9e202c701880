import type { TurnCoordinator } from '../chat/turn-coordinator.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../logger.js';
import { createMemoryStore } from '../store/memory-store.js';
import type { SessionStore } from '../store/session-store.js';
import { defaultDataDirectory, openSqliteStore } from './open-sqlite-store.js';

/** The session store `--store` names, opened, as the Node and Bun entries use it. */
export interface OpenedSessionStore {
  store: SessionStore;
  /** Whether this process is the only one running the store's sessions' turns (see `recoverInterruptedTurns`). */
  onlyRunner: boolean;
  /** How servers sharing the store agree on who runs each turn (Redis); absent when the server is alone on it. */
  coordinator?: TurnCoordinator;
  /** Logs where sessions live, and from then on what happens to the store's connection. */
  describe(logger: Pick<Logger, 'info' | 'warn'>): void;
  /** Closes the store; it must not be used after. */
  close(): Promise<void>;
}

/**
 * Opens the store of `config.store`: SQLite in the data directory, Redis at `--redis-url`
 * (its client loaded only then), or memory. Rejects with `StoreOpenError` when it cannot.
 */
export async function openSessionStore(
  config: Pick<Config, 'store' | 'dataDir' | 'redisUrl' | 'maxSessions'>,
  env: Record<string, string | undefined>,
): Promise<OpenedSessionStore> {
  const { maxSessions } = config;
  if (config.store === 'redis') {
    const { openRedisStore } = await import('./open-redis-store.js');
    const redis = await openRedisStore({ url: config.redisUrl ?? '', maxSessions });
    return {
      store: redis.store,
      // Several servers may share one Redis: a turn is recovered when its runner's lease is gone.
      onlyRunner: false,
      coordinator: redis.coordinator,
      describe(logger) {
        logger.info(`sessions: Redis at ${redis.address} (they survive restarts)`);
        redis.reportTo(logger);
      },
      close: () => redis.close(),
    };
  }
  if (config.store === 'sqlite') {
    const database = await openSqliteStore({ directory: config.dataDir ?? defaultDataDirectory(env), maxSessions });
    return {
      store: database.store,
      // The database's lock keeps any other server off the data directory.
      onlyRunner: true,
      describe: (logger) => logger.info(`sessions: SQLite database ${database.path} (they survive restarts)`),
      close: async () => database.close(),
    };
  }
  return {
    store: createMemoryStore({ maxSessions }),
    onlyRunner: true,
    describe: (logger) => logger.info('sessions: in memory (--store memory: they are lost when the server stops)'),
    close: async () => {},
  };
}
