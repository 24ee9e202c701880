import { createHash } from 'node:crypto';
import type { TurnCoordinator } from '../chat/turn-coordinator.js';
import { type Clock, systemClock } from '../clock.js';
import { formatDuration } from '../config/duration.js';
import type { Logger } from '../logger.js';
import {
  type RedisConnection,
  RedisFailure,
  type RedisReply,
  type RedisSubscriber,
} from '../store/redis-connection.js';
import { createRedisCoordinator } from '../store/redis-coordinator.js';
import { createRedisStore } from '../store/redis-store.js';
import type { SessionStore } from '../store/session-store.js';
import { StoreOpenError } from './open-sqlite-store.js';

export interface OpenRedisStoreOptions {
  /** `redis://[user:password@]host[:port][/database]`, or `rediss://` for TLS. */
  url: string;
  maxSessions?: number;
  /** Prefix of every key (default `llm-chat-server:`). */
  prefix?: string;
  now?: () => number;
  /** The longest a command may take before the store call fails with `store_unavailable` (default 2 s). */
  timeout?: number;
  clock?: Clock;
  /** How long a turn's lease lives without renewal (default 5 s): how soon a turn whose server died is taken over. */
  leaseTtl?: number;
}

export interface RedisStoreConnection {
  store: SessionStore;
  /** How this server and the others on the same Redis agree on who runs each turn, and reach each other. */
  coordinator: TurnCoordinator;
  /** The connection the store sends its commands on. */
  connection: RedisConnection;
  /** The server's URL with any password replaced by `***`, for logs. */
  address: string;
  /** Tells `logger` when the connection to Redis is lost and when it is back. */
  reportTo(logger: Pick<Logger, 'warn' | 'info'>): void;
  /** Closes the connections; the store and the coordinator must not be used after. */
  close(): Promise<void>;
}

type RedisModule = typeof import('@redis/client');

/** A URL's password as `***`: what a log or an error message may show. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.href;
  } catch {
    return 'the Redis URL';
  }
}

const replyCauses: Record<string, string> = {
  OOM: 'Redis is out of memory',
  READONLY: 'Redis is a read-only replica',
  LOADING: 'Redis is loading its data',
  MISCONF: 'Redis cannot write its snapshot and refuses writes',
  BUSY: 'Redis is busy running a script',
  NOAUTH: 'Redis wants a password',
  WRONGPASS: 'Redis refused the user name or password',
  NOPERM: 'the Redis user may not run this command',
};

/**
 * Why a command failed, in words: the code of an error reply (RESP puts it first), a timeout, or
 * the connection. Never the command or its data.
 */
function failureReason(error: unknown, redis: RedisModule, timeout: number): string {
  if (error instanceof redis.ErrorReply) {
    const code = /^[A-Z]+/.exec(error.message)?.[0] ?? 'ERR';
    return `${replyCauses[code] ?? 'Redis answered with an error'} (${code})`;
  }
  if (error instanceof redis.TimeoutError) return `Redis did not answer within ${formatDuration(timeout)}`;
  return 'Redis cannot be reached';
}

/** Why the first connection failed: the socket's error code, a timeout or an error reply. */
function connectFailure(error: unknown, redis: RedisModule, timeout: number): string {
  const cause = error instanceof redis.ReconnectStrategyError ? error.originalError : error;
  if (cause instanceof redis.ConnectionTimeoutError) return `no connection within ${formatDuration(timeout)}`;
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string') return `the connection failed (${code})`;
  return failureReason(cause, redis, timeout);
}

/**
 * Connects to Redis and makes the session store on it (`createRedisStore`), and the coordinator
 * of the servers sharing it (`createRedisCoordinator`), which listens on a second connection of
 * its own (a connection that subscribes can send nothing else). Commands fail at once
 * while the connection is down (no queue waits for Redis) and after `timeout` when Redis does not
 * answer; the client reconnects by itself, within a second of Redis coming back. The first
 * connection is not retried: rejects with `StoreOpenError` when Redis cannot be reached or refuses
 * the credentials, or when the client library cannot be loaded.
 */
export async function openRedisStore(options: OpenRedisStoreOptions): Promise<RedisStoreConnection> {
  const timeout = options.timeout ?? 2000;
  const clock = options.clock ?? systemClock;
  const address = redactedUrl(options.url);
  // Loaded only here, so that the other stores never load it.
  let redis: RedisModule;
  try {
    const loaded: RedisModule | { default: RedisModule } = await import('@redis/client');
    // A CommonJS package imported from a chunk of the bundle (dist/cli) shows its exports as `default` only.
    redis =
      'createClient' in loaded && typeof loaded.createClient === 'function'
        ? loaded
        : (loaded as { default: RedisModule }).default;
  } catch (error) {
    throw new StoreOpenError(
      `cannot load the Redis client (@redis/client): ${(error as Error).message.split('\n')[0]}.`,
    );
  }
  let connected = false;
  let lost = false;
  let logger: Pick<Logger, 'warn' | 'info'> | undefined;
  const client = redis.createClient({
    url: options.url,
    RESP: 2,
    disableOfflineQueue: true,
    // Commands not yet written when Redis stops answering: bounded, then refused.
    commandsQueueMaxLength: 10_000,
    commandOptions: { timeout },
    socket: {
      connectTimeout: timeout,
      // The first connection is not retried (start-up reports it); after it, Redis is tried again
      // and again, at most a second apart.
      reconnectStrategy: (retries, cause) => (connected ? Math.min(50 * 2 ** retries, 1000) : cause),
    },
  });
  client.on('error', (error: unknown) => {
    if (!connected || lost) return;
    lost = true;
    logger?.warn(
      `sessions: the connection to Redis at ${address} is lost (${connectFailure(error, redis, timeout)}); requests fail with 503 until it is back`,
    );
  });
  client.on('ready', () => {
    connected = true;
    if (!lost) return;
    lost = false;
    logger?.info(`sessions: connected to Redis at ${address} again`);
  });
  try {
    await client.connect();
  } catch (error) {
    client.destroy();
    throw new StoreOpenError(`cannot connect to Redis at ${address}: ${connectFailure(error, redis, timeout)}.`);
  }

  // The client's own timeout only covers commands not yet written; this one covers the reply too.
  const bounded = <T>(work: Promise<T>) =>
    new Promise<T>((resolve, reject) => {
      const cancel = clock.after(timeout, () =>
        reject(new RedisFailure(failureReason(new redis.TimeoutError(), redis, timeout))),
      );
      work.then(
        (reply) => {
          cancel();
          resolve(reply);
        },
        (error: unknown) => {
          cancel();
          const code = error instanceof redis.ErrorReply ? /^[A-Z]+/.exec(error.message)?.[0] : undefined;
          reject(new RedisFailure(failureReason(error, redis, timeout), code));
        },
      );
    });
  const connection: RedisConnection = {
    send: (command) => bounded(client.sendCommand(command) as unknown as Promise<RedisReply>),
    scriptHash: (source) => createHash('sha1').update(source).digest('hex'),
  };

  // The one connection that listens, for every channel this server follows.
  const listening = client.duplicate();
  listening.on('error', () => undefined);
  const close = async () => {
    await Promise.all([client, listening].map((each) => (each.isOpen ? each.close() : undefined)));
  };
  let coordinator: TurnCoordinator;
  try {
    await listening.connect();
    const subscriber: RedisSubscriber = {
      subscribe: (channel, listener) => bounded(listening.subscribe(channel, listener)),
      unsubscribe: (channel, listener) => listening.unsubscribe(channel, listener).catch(() => undefined),
    };
    coordinator = await createRedisCoordinator({
      connection,
      subscriber,
      prefix: options.prefix,
      clock,
      leaseTtl: options.leaseTtl,
    });
  } catch (error) {
    client.destroy();
    listening.destroy();
    throw new StoreOpenError(`cannot connect to Redis at ${address}: ${connectFailure(error, redis, timeout)}.`);
  }
  return {
    store: createRedisStore({
      connection,
      prefix: options.prefix,
      now: options.now,
      maxSessions: options.maxSessions,
    }),
    coordinator,
    connection,
    address,
    reportTo(target) {
      logger = target;
    },
    close,
  };
}
