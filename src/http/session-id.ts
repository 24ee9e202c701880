import type { Context } from 'hono';
import { AppError } from '../errors.js';
import { sessionIdPattern } from '../sessions/session-id.js';

/**
 * The session id a request names: body `session_id`, query `session_id`, then the `X-Session-Id`
 * header. Each must have the server's id form (checked before any store lookup), and all that are
 * given must agree. Undefined when none is given.
 */
export function requestedSessionId(c: Context, fromBody?: string): string | undefined {
  const given = [fromBody, ...(c.req.queries('session_id') ?? []), c.req.header('x-session-id')].filter(
    (value): value is string => value !== undefined,
  );
  for (const id of given) {
    if (!sessionIdPattern.test(id)) {
      throw new AppError('invalid_session_id', 'A session id is 1 to 128 characters of A-Z, a-z, 0-9, "_" and "-".');
    }
  }
  if (new Set(given).size > 1) {
    throw new AppError('conflicting_session_id', 'The request names two different sessions; name one.');
  }
  return given[0];
}
