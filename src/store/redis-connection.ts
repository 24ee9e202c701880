import { AppError } from '../errors.js';

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
  /**
   * The SHA-1 of a script's source in hex, as `EVALSHA` names it, computed at once (Node's
   * crypto). Absent, Web Crypto's digest computes it, off the thread: under load it can come after
   * the script's first answer, which then waits for it.
   */
  scriptHash?(source: string): string;
}

/**
 * A connection of its own that listens to Redis channels (pub/sub), one per server for all the
 * channels it follows: a connection that subscribes can send no other command.
 */
export interface RedisSubscriber {
  /**
   * Calls `listener` with each message published on `channel` from when Redis confirmed the
   * subscription (then it resolves) until `unsubscribe`. Messages published while the connection
   * is down are lost; it subscribes again by itself once it is back. Rejects with `RedisFailure`
   * when Redis cannot be reached.
   */
  subscribe(channel: string, listener: (message: string) => void): Promise<void>;
  /** Stops calling `listener` for `channel`; never fails. */
  unsubscribe(channel: string, listener: (message: string) => void): Promise<void>;
}

/**
 * Why a Redis command failed, in words (`Redis cannot be reached`, `Redis is out of memory
 * (OOM)`): never the command, its data or the server's address. When Redis did not answer in
 * time, the command may still have run. `code` is the code an error reply starts with (`OOM`,
 * `NOSCRIPT`), when Redis answered with one.
 */
export class RedisFailure extends Error {
  constructor(
    readonly reason: string,
    readonly code?: string,
  ) {
    super(reason);
    this.name = 'RedisFailure';
  }
}

/** The SHA-1 of a script's source, in hex, as `EVALSHA` names it. */
async function scriptHash(source: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-1', new TextEncoder().encode(source));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}

/**
 * Commands on `connection` whose failures are `store_unavailable` (503), saying what could not be
 * done (`action`: "save the session") and why, as the session store reports them.
 */
export function storeCommands(connection: RedisConnection) {
  const unavailable = (action: string, error: unknown) => {
    if (!(error instanceof RedisFailure)) return error;
    return new AppError(
      'store_unavailable',
      `The session store could not ${action}: ${error.reason}. Try again later.`,
    );
  };
  const send = async (action: string, command: string[]) => {
    try {
      return await connection.send(command);
    } catch (error) {
      throw unavailable(action, error);
    }
  };
  /** The hashes of the scripts sent so far; a script is sent with its source until its hash is known. */
  const hashes = new Map<string, string>();
  return {
    send,
    /**
     * Runs a Lua script on `keys` (every key it touches) with `values` as its ARGV: by its hash
     * (`EVALSHA`) once known, else, and when Redis does not know it, with its source (`EVAL`,
     * which Redis then keeps). Sent at once, so that commands go to Redis in the order of the calls.
     */
    async script(action: string, source: string, keys: string[], values: Array<string | number>) {
      const rest = [String(keys.length), ...keys, ...values.map(String)];
      const hash = hashes.get(source);
      if (hash === undefined) {
        // Sent now (the order of calls holds); answered once the hash is known too, so that the
        // next call, made after this one's answer, goes by its hash.
        const computed = connection.scriptHash?.(source) ?? scriptHash(source);
        const [reply] = await Promise.all([
          send(action, ['EVAL', source, ...rest]),
          Promise.resolve(computed).then((known) => hashes.set(source, known)),
        ]);
        return reply;
      }
      try {
        return await connection.send(['EVALSHA', hash, ...rest]);
      } catch (error) {
        if (!(error instanceof RedisFailure && error.code === 'NOSCRIPT')) throw unavailable(action, error);
        return send(action, ['EVAL', source, ...rest]);
      }
    },
  };
}
