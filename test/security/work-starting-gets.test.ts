import { describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/test-app.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

// GET /user_request and GET /events start or resume work, so a page on another origin must not be
// able to trigger them: not with HEAD (which Hono routes to the GET handler), not from another port
// of localhost (`Sec-Fetch-Site: same-site`), only from the server's own pages, from non-browser
// clients, or from an origin listed in --cors-origin.

const upstream = useFakeUpstream({ each: true });

const errorOf = async (response: Response) => (await response.json()).error;

/** Asserts that nothing reached the model and the default session holds no user message. */
async function expectNoTurn(app: Awaited<ReturnType<typeof buildTestApp>>['app']) {
  expect(upstream.chatRequests()).toHaveLength(0);
  const state = await app.request('/session_state');
  expect(state.status).toBe(200);
  const { messages } = await state.json();
  expect(messages.filter((message: { role: string }) => message.role !== 'system')).toEqual([]);
}

describe('HEAD on a work-starting GET never runs its handler', () => {
  it.each([
    ['/user_request?input=hi', 'GET, POST'],
    ['/events', 'GET'],
  ])('HEAD %s: 405 with Allow, no body, and no turn', async (path, allow) => {
    const { app } = await buildTestApp(upstream);
    const response = await app.request(path, { method: 'HEAD' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe(allow);
    expect(await response.text()).toBe('');
    await expectNoTurn(app);
  });

  it.each(['cross-site', 'same-site', 'same-origin', 'none'])(
    'HEAD /user_request with Sec-Fetch-Site: %s starts no turn',
    async (site) => {
      const { app } = await buildTestApp(upstream);
      const response = await app.request('/user_request?input=hi', {
        method: 'HEAD',
        headers: { 'sec-fetch-site': site },
      });
      expect([403, 405]).toContain(response.status);
      await expectNoTurn(app);
    },
  );

  it('HEAD on a route that starts nothing still answers as GET would', async () => {
    const { app } = await buildTestApp(upstream);
    const response = await app.request('/health', { method: 'HEAD' });
    expect(response.status).toBe(200);
  });
});

describe('Sec-Fetch-Site on work-starting GETs', () => {
  it.each([
    ['/user_request?input=hi', 'cross-site'],
    ['/user_request?input=hi', 'same-site'],
    ['/events', 'cross-site'],
    ['/events', 'same-site'],
  ])('GET %s with Sec-Fetch-Site: %s and no Origin: 403 forbidden_origin, no turn', async (path, site) => {
    const { app } = await buildTestApp(upstream);
    const response = await app.request(path, { headers: { 'sec-fetch-site': site } });
    expect(response.status).toBe(403);
    expect(await errorOf(response)).toMatchObject({ code: 'forbidden_origin' });
    await expectNoTurn(app);
  });

  it('same-site from an origin listed in --cors-origin may start a turn', async () => {
    const { app } = await buildTestApp(upstream, { corsOrigin: ['http://localhost:5173'] });
    const response = await app.request('/user_request?input=hi', {
      headers: { 'sec-fetch-site': 'same-site', origin: 'http://localhost:5173' },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    await response.text();
    expect(upstream.chatRequests()).toHaveLength(1);
  });

  it.each([['same-origin'], ['none'], [undefined]])(
    'Sec-Fetch-Site %s (own page, typed URL, non-browser client) may start a turn',
    async (site) => {
      const { app } = await buildTestApp(upstream);
      const response = await app.request('/user_request?input=hi', {
        headers: site ? { 'sec-fetch-site': site } : {},
      });
      expect(response.status).toBe(200);
      expect(await response.text()).toContain('event: done');
      expect(upstream.chatRequests()).toHaveLength(1);
    },
  );
});
