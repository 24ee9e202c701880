/**
 * llm-chat-server as a library: the pieces to build the HTTP app yourself.
 *
 * ```ts
 * import { serve } from '@hono/node-server';
 * import { configSchema, createApp, createLogger, createMemoryStore, createModels, createNodeDirectoryGuard } from 'llm-chat-server';
 *
 * const config = { ...configSchema.parse({ model: 'qwen2.5-coder:latest' }), currentDirectory: process.cwd() };
 * const app = createApp({
 *   config,
 *   store: createMemoryStore(),
 *   models: createModels(config),
 *   directories: createNodeDirectoryGuard({ base: process.cwd(), roots: [config.currentDirectory] }),
 *   logger: createLogger({ level: 'info', write: (line) => console.error(line) }),
 *   version: '1.0.0',
 * });
 * serve({ fetch: app.fetch, port: 8000 });
 * ```
 *
 * `composeServer` does the same from a config and a servers file, with the MCP tools and a
 * logger that redacts every secret. The turn's event types are at `llm-chat-server/events`.
 */

/** The Hono app of the whole HTTP API, from its dependencies; it imports no runtime module. */
export { type App, type AppConfig, type AppDependencies, createApp } from './app.js';
/** Time and timers, injectable for tests. */
export { type Clock, systemClock } from './clock.js';
/** The app with its MCP tools and a redacting logger, put together as the server's own entries do. */
export { composeServer, type ServerParts } from './compose-server.js';
/** Settings from sources such as `environmentSource(process.env)`, first source winning. */
export { type ConfigSource, environmentSource, type ResolvedConfig, resolveConfig } from './config/resolve-config.js';
/** Every setting, with its default: `configSchema.parse({})` is the default configuration. */
export { type Config, configSchema } from './config/schema.js';
/** The one error type: a string code, its HTTP status and the wire body. */
export { AppError, type ErrorBody, type ErrorCode } from './errors.js';
export type { ChatModel } from './llm/chat-model.js';
/** The model adapter of each provider (Ollama, OpenAI-compatible). */
export { createModels, type ModelsOptions } from './llm/create-models.js';
export type { Provider } from './llm/provider.js';
/** One line per entry, secrets redacted. */
export { createLogger, type Logger, type LogLevel } from './logger.js';
export { createNodeDirectoryGuard, type NodeDirectoryGuardOptions } from './node/directory-guard.js';
/** The server's Redis session store: connects (loading the Redis client only then) and makes the store on it (Node and Bun). */
export {
  type OpenRedisStoreOptions,
  openRedisStore,
  type RedisStoreConnection,
  redactedUrl,
} from './node/open-redis-store.js';
/** The server's SQLite session store: `sessions.db` in a data directory, locked to one process (Node and Bun). */
export { openSqliteStore, type SqliteStoreFile, StoreOpenError } from './node/open-sqlite-store.js';
/** Starts stdio MCP servers as child processes (Node and Bun only). */
export { createStdioStarter } from './node/stdio-transport.js';
/** Which directories a session may use: checked on the filesystem (Node, Bun) or by name only (Workers). */
export type { DirectoryGuard } from './sessions/directory-guard.js';
export { createRootDirectoryGuard } from './sessions/root-directory-guard.js';
export { createKvStore, type KvNamespaceLike, type KvStoreOptions } from './store/kv-store.js';
export { createMemoryStore, type MemoryStoreOptions } from './store/memory-store.js';
export { type RedisConnection, RedisFailure, type RedisReply } from './store/redis-connection.js';
export { createRedisStore, type RedisStoreOptions } from './store/redis-store.js';
/** The session store port and its drivers: in memory, Workers KV, SQLite, Redis, and a memory tier in front of another. */
export type { SessionStore } from './store/session-store.js';
export type { SqliteDatabase, SqliteStatement } from './store/sqlite-database.js';
export { createSqliteStore, type SqliteStoreOptions } from './store/sqlite-store.js';
export { createTieredStore } from './store/tiered-store.js';
/** MCP servers' tools, from the `mcpServers` of a servers file. */
export { createMcpToolProvider, type McpToolProviderOptions } from './tools/mcp-tool-provider.js';
export { parseServersConfig, type ServerConfig, type ServersConfig } from './tools/servers-config.js';
export type { ToolProvider } from './tools/tool-provider.js';
