import type { HubNamespace } from './worker-environment.js';

/** The header that tells a session hub which session it holds. */
export const hubSessionHeader = 'x-llm-chat-server-session';

/**
 * The path of the hub's own store writes. Only the front sends it: the front forwards nothing but
 * the routes of a session, so no client request reaches a hub on this path.
 */
export const hubStorePath = '/__hub/store';

/** The hub (Durable Object) of session `sessionId`. */
export function hubOf(hubs: HubNamespace, sessionId: string) {
  return hubs.get(hubs.idFromName(sessionId));
}

/** `request` as sent to the hub of `sessionId`, which learns its session from the header. */
export function toHub(hubs: HubNamespace, sessionId: string, request: Request): Promise<Response> {
  const headers = new Headers(request.headers);
  headers.set(hubSessionHeader, sessionId);
  return hubOf(hubs, sessionId).fetch(new Request(request, { headers }));
}
