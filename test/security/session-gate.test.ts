import { describe, expect, it } from 'vitest';
import type { SessionHost } from '../../src/http/session-gate.js';
import { buildTestApp } from '../helpers/test-app.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

// Finding 11: the Workers front (the app with a SessionHost) checks the request before it hands
// anything to a session's Durable Object, and makes no place for a session that does not exist.

const upstream = useFakeUpstream();
const token = 'front-token';

/** A host that records what reached it and answers for the session it was given. */
function recordingHost() {
  const forwarded: Array<{ sessionId: string; path: string; header: string | null }> = [];
  const host: SessionHost = {
    async forward(sessionId, request) {
      forwarded.push({ sessionId, path: new URL(request.url).pathname, header: request.headers.get('x-session-id') });
      return Response.json({ answered_by: sessionId });
    },
  };
  return { host, forwarded };
}

async function front(overrides = {}) {
  const { host, forwarded } = recordingHost();
  const built = await buildTestApp(
    upstream,
    { authToken: token, maxBodyBytes: 1024, ...overrides },
    { dependencies: { sessionHost: host } },
  );
  const call = (path: string, init: { body?: unknown; auth?: boolean; raw?: string } = {}) =>
    built.app.request(path, {
      method: init.body === undefined && init.raw === undefined ? 'GET' : 'POST',
      headers: {
        ...(init.auth === false ? {} : { authorization: `Bearer ${token}` }),
        'content-type': 'application/json',
      },
      body: init.raw ?? (init.body === undefined ? undefined : JSON.stringify(init.body)),
    });
  return { ...built, call, forwarded };
}

describe('the session gate in front of session hosts (finding 11)', () => {
  it('checks the token before anything reaches a host', async () => {
    const { call, forwarded } = await front();
    const response = await call('/user_request', { body: { input: 'hi', session_id: 'abc' }, auth: false });
    expect(response.status).toBe(401);
    expect(forwarded).toEqual([]);
  });

  it('refuses a body over --max-body-bytes before anything reaches a host', async () => {
    const { call, forwarded } = await front();
    const response = await call('/user_request', { raw: JSON.stringify({ input: 'x'.repeat(5000) }) });
    expect(response.status).toBe(413);
    expect(forwarded).toEqual([]);
  });

  it('answers 404 for a session id nobody started, making no place for it', async () => {
    const { call, forwarded } = await front();
    const response = await call('/user_request', { body: { input: 'hi', session_id: 'never-started' } });
    expect(response.status).toBe(404);
    expect(((await response.json()) as any).error.code).toBe('unknown_session');
    expect(forwarded).toEqual([]);
  });

  it('hands /start_session to a new place, and the default and named sessions to theirs', async () => {
    const { call, forwarded, store } = await front();
    expect((await call('/start_session', { body: {} })).status).toBe(200);
    expect(forwarded).toEqual([{ sessionId: expect.any(String), path: '/start_session', header: null }]);
    // No session named and none started here: the default one is made (in the store, which on
    // Workers writes through its hub) and the request goes to it, naming it.
    expect((await call('/session_state')).status).toBe(200);
    const defaultId = await store.getDefaultSessionId();
    expect(defaultId).toBeDefined();
    expect(await store.get(defaultId as string)).toBeDefined();
    expect(forwarded[1]).toEqual({ sessionId: defaultId, path: '/session_state', header: defaultId });
    expect(forwarded[0].sessionId).not.toBe(defaultId);
    expect((await call(`/session_state?session_id=${defaultId}`)).status).toBe(200);
    expect(forwarded[2]).toMatchObject({ sessionId: defaultId });
  });

  it('with --require-session-id, a request naming no session is 400 and reaches no host', async () => {
    const { call, forwarded } = await front({ requireSessionId: true });
    const response = await call('/user_request', { body: { input: 'hi' } });
    expect(response.status).toBe(400);
    expect(((await response.json()) as any).error.code).toBe('session_required');
    expect(forwarded).toEqual([]);
  });
});
