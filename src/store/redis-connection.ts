/** A reply of Redis (RESP2 as the client hands it over): a bulk or simple string, an integer, nil, or an array of replies. */
export type RedisReply = string | number | null | RedisReply[];

/**
 * The part of a Redis client the Redis store uses: one command at a time, on a connection shared by
 * every request. Whatever needs more than one command to be atomic is a Lua script (`EVAL`),
 * which Redis runs alone, so nothing else's commands interleave.
 */
export interface RedisConnection {
  /**
   * Sends `command` (`['HGET', key, field]`) and resolves with Redis's reply. Rejects with a
   * `RedisFailure` when Redis cannot be reached, does not answer within the connection's bound,
   * or answers with an error; never waits for Redis to come back.
   */
  send(command: readonly string[]): Promise<RedisReply>;
}

/**
 * Why a Redis command failed, in words (`Redis cannot be reached`, `Redis is out of memory
 * (OOM)`): never the command, its data or the server's address. When Redis did not answer in
 * time, the command may still have run.
 */
export class RedisFailure extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'RedisFailure';
  }
}
