import type { RouteConfig } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import type { Conversations } from '../chat/conversations.js';
import { requestIdOf } from './request-log.js';
import { requestedSessionId } from './session-id.js';

/**
 * Where a session's requests run when it is not in this app: on Workers, the Durable Object that
 * holds the session. The app in front then only checks the request (token, Host, Origin, size,
 * session id form), finds the session the request addresses, and hands the request on.
 */
export interface SessionHost {
  /** Answers `request` in the place of session `sessionId`, creating that place if need be. */
  forward(sessionId: string, request: Request): Promise<Response>;
}

/**
 * Which session a route's request addresses: the one it names or the default one (`existing`),
 * or one made for it (`new`, `/start_session`).
 */
export type SessionScope = 'existing' | 'new';

export interface SessionGateOptions {
  host?: SessionHost;
  conversations: Conversations;
  newSessionId: () => string;
}

/** A session id in a JSON body, if it has one as a string; anything else is left to validation. */
function bodySessionId(text: string | undefined): string | undefined {
  if (!text) return undefined;
  try {
    const parsed = JSON.parse(text) as { session_id?: unknown } | null;
    return typeof parsed?.session_id === 'string' ? parsed.session_id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `route` as a route of a session: with a session host, its requests are answered by the host,
 * found with the same rules as everywhere (`requestedSessionId`, the default session of the
 * store); without one, the route is unchanged. The gate runs after the app's token, Host, Origin
 * and size checks, and a session that does not exist is 404 here: no host place is made for it.
 */
export function sessionRoute<R extends RouteConfig>(route: R, scope: SessionScope, options: SessionGateOptions): R {
  const { host } = options;
  if (!host) return route;
  const gate: MiddlewareHandler = async (c) => {
    const body = c.req.method === 'POST' ? await c.req.text() : undefined;
    const requested = requestedSessionId(c, bodySessionId(body));
    const id = scope === 'new' ? options.newSessionId() : await options.conversations.sessionId(requested);
    const headers = new Headers(c.req.raw.headers);
    if (scope === 'existing') headers.set('x-session-id', id);
    // The host's app logs the request under the id this one logged and answers with.
    const requestId = requestIdOf(c);
    if (requestId) headers.set('x-request-id', requestId);
    return host.forward(id, new Request(c.req.raw.url, { method: c.req.method, headers, body }));
  };
  return { ...route, middleware: [gate] };
}
