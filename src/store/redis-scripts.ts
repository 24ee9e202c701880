/**
 * The Lua scripts of the Redis store. Redis runs a script alone: no other client's command runs
 * between its reads and its writes, so each is one atomic step. Every key a script touches is
 * passed in KEYS. Numbers come in as text and are compared as numbers.
 */

/** What `put` answers: saved; refused on the revision; or refused for room. */
export const putOutcome = { saved: 0, conflict: 1, full: 2 } as const;

/**
 * Saves a session over the revision it names. KEYS: the session's hash, the index of sessions by
 * expiry (a sorted set), the session's event log, the set of sessions with pending calls, the set
 * of sessions with audit entries. ARGV: id, record (JSON), revision, expiry (ms since the epoch),
 * time to live (ms), expected revision ('' for none), now (ms), most sessions, pending calls
 * (JSON, '' for none), audit entries (JSON, '' for none). The two JSON texts go in the hash's
 * `pending` and `audit` fields, and the session's id in the matching set, while there are any.
 * Returns {0}, {1, stored revision} or {2, expiry of the session that expires first}.
 */
export const putScript = `
local held = redis.call('HMGET', KEYS[1], 'revision', 'expires_at')
local now = tonumber(ARGV[7])
local live = held[2] and tonumber(held[2]) > now
if live and ARGV[6] ~= '' and tonumber(held[1]) ~= tonumber(ARGV[6]) then
  return {1, tonumber(held[1])}
end
if not live and redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[8]) then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[8]) then
    local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
    return {2, tonumber(oldest[2])}
  end
end
redis.call('HSET', KEYS[1], 'revision', ARGV[3], 'expires_at', ARGV[4], 'record', ARGV[2])
for index, field in ipairs({'pending', 'audit'}) do
  local value = ARGV[8 + index]
  if value ~= '' then
    redis.call('HSET', KEYS[1], field, value)
    redis.call('SADD', KEYS[3 + index], ARGV[1])
  else
    redis.call('HDEL', KEYS[1], field)
    redis.call('SREM', KEYS[3 + index], ARGV[1])
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
redis.call('PEXPIRE', KEYS[3], ARGV[5])
return {0}
`;

/**
 * Removes a session and its event log. KEYS: the session's hash, its event log, the index, the sets
 * of sessions with pending calls and with audit entries. ARGV: id.
 */
export const deleteScript = `
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('SREM', KEYS[4], ARGV[1])
redis.call('SREM', KEYS[5], ARGV[1])
return 0
`;

/**
 * Adds batches of events to sessions' logs, each log a stream of one entry per batch holding the
 * turn's sequence, the last index of the batch and its frames. A newer turn's batch replaces the
 * log; an older turn's is dropped. A log lives as long as its session (or `orphan ttl` when the
 * session is not stored) and keeps its latest `max entries` batches. A batch added is published on
 * its turn's channel as `<sequence> <frames>`. KEYS: per batch, the log and the session's hash.
 * ARGV: max entries, orphan ttl (ms), then per batch: sequence, last index, frames, channel.
 * Returns, per batch, 1 when added, else 0.
 */
export const appendScript = `
local added = {}
for batch = 1, #KEYS / 2 do
  local log, session = KEYS[2 * batch - 1], KEYS[2 * batch]
  local base = 2 + 4 * (batch - 1)
  local sequence, last, frames, channel = ARGV[base + 1], ARGV[base + 2], ARGV[base + 3], ARGV[base + 4]
  local latest = redis.call('XREVRANGE', log, '+', '-', 'COUNT', 1)[1]
  local logged = latest and tonumber(latest[2][2])
  if logged and logged > tonumber(sequence) then
    added[batch] = 0
  else
    if logged and logged < tonumber(sequence) then redis.call('DEL', log) end
    redis.call('XADD', log, 'MAXLEN', ARGV[1], '*', 'sequence', sequence, 'last', last, 'frames', frames)
    local ttl = redis.call('PTTL', session)
    if ttl <= 0 then ttl = tonumber(ARGV[2]) end
    redis.call('PEXPIRE', log, ttl)
    redis.call('PUBLISH', channel, sequence .. ' ' .. frames)
    added[batch] = 1
  end
end
return added
`;

/**
 * Takes a session's lease: when nobody holds it, or when its holder is this server itself (a
 * lease it let go while Redis was away, and that has not expired yet). KEYS: the lease. ARGV: the
 * new value (`<instance> <token>`), time to live (ms), `<instance> `. Returns 1 when taken, else 0.
 */
export const claimScript = `
local current = redis.call('GET', KEYS[1])
if current and string.sub(current, 1, #ARGV[3]) ~= ARGV[3] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`;

/**
 * Renews the leases this server holds, and takes again one that expired while nobody took it (a
 * renewal that came late). KEYS: the leases. ARGV: time to live (ms), then the value each lease
 * must have (`<instance> <token>`). Returns, per lease, 1 when it is held, 0 when another server's.
 */
export const renewScript = `
local held = {}
for index, key in ipairs(KEYS) do
  local value = ARGV[index + 1]
  local current = redis.call('GET', key)
  if current == value then
    redis.call('PEXPIRE', key, ARGV[1])
    held[index] = 1
  elseif not current then
    redis.call('SET', key, value, 'PX', ARGV[1])
    held[index] = 1
  else
    held[index] = 0
  end
end
return held
`;

/** Deletes a key if it still has the value given. KEYS: the key. ARGV: the value. Returns 1 when deleted. */
export const deleteIfScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** Sets every key to one value with one expiry. KEYS: the keys. ARGV: value, time to live (ms). */
export const setAllScript = `
for _, key in ipairs(KEYS) do redis.call('SET', key, ARGV[1], 'PX', ARGV[2]) end
return #KEYS
`;
