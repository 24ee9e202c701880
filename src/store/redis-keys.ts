/**
 * The names of everything the Redis store and the Redis coordinator keep in Redis, under one
 * prefix (default `llm-chat-server:`), so that several servers on one Redis database find the
 * same keys and several deployments can share one database under different prefixes.
 */
export function redisKeys(prefix = 'llm-chat-server:') {
  return {
    /** A session: a hash of its record, revision and expiry. */
    session: (id: string) => `${prefix}session:${id}`,
    /** A session's event log: a stream of batches of its latest turn's events. */
    events: (id: string) => `${prefix}events:${id}`,
    /** The sessions by expiry: a sorted set, what `--max-sessions` counts. */
    sessions: `${prefix}sessions`,
    /** The id of the default session. */
    defaultSession: `${prefix}default-session`,
    /** The sessions with calls waiting for a decision, for the approver inbox: a set. */
    sessionsWithPending: `${prefix}sessions-with-pending`,
    /** The sessions with audit entries: a set. */
    sessionsWithAudit: `${prefix}sessions-with-audit`,
    /** The lease on a session's turn: `<instance> <token>` of the server running it, with a TTL. */
    lease: (id: string) => `${prefix}lease:${id}`,
    /** The server where a stream waits on the session's step, with a TTL. */
    waiting: (id: string) => `${prefix}waiting:${id}`,
    /** Set while a server follows the session's turn that another runs, with a TTL. */
    followed: (id: string) => `${prefix}followed:${id}`,
    /** The channel of a session's turn events: each batch logged (and the `done` of a waiting step). */
    turnChannel: (id: string) => `${prefix}turn:${id}`,
    /** The channel of the messages to one server. */
    instanceChannel: (instance: string) => `${prefix}instance:${instance}`,
  };
}

export type RedisKeys = ReturnType<typeof redisKeys>;

/** A batch of a turn's events as its channel carries it: the turn's sequence, a space, the frames. */
export const turnMessage = (sequence: number, frames: string) => `${sequence} ${frames}`;
