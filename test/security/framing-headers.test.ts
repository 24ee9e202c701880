import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { directives } from '../helpers/content-security-policy.js';
import { buildTestApp } from '../helpers/test-app.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

// The chat page has Approve buttons, so a hostile page that frames it could trick a click
// (clickjacking). HTML responses forbid framing; the chat page runs only its own script.

const upstream = useFakeUpstream();

describe('framing headers', () => {
  it.each(['/', '/docs'])('GET %s: X-Frame-Options DENY and frame-ancestors none', async (path) => {
    const { app } = await buildTestApp(upstream);
    const response = await app.request(path);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect(directives(response.headers.get('content-security-policy'))['frame-ancestors']).toEqual(["'none'"]);
  });

  it('JSON responses are left as they were', async () => {
    const { app } = await buildTestApp(upstream);
    const response = await app.request('/health');
    expect(response.headers.get('x-frame-options')).toBeNull();
  });
});

describe('the chat page runs only its own script and style', () => {
  it('no inline script or style: only the bundle from this origin, no images, requests to this origin', async () => {
    const { app } = await buildTestApp(upstream);
    const response = await app.request('/');
    const policy = directives(response.headers.get('content-security-policy'));
    const html = await response.text();
    expect(html).not.toMatch(/<script>|<style>|\son[a-z]+=|style="/i);
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]);
    expect(assets).toEqual([
      expect.stringMatching(/^\/assets\/app-\w+\.css$/),
      expect.stringMatching(/^\/assets\/app-\w+\.js$/),
    ]);
    expect(policy['script-src']).toEqual(["'self'"]);
    expect(policy['style-src']).toEqual(["'self'"]);
    expect(policy['default-src']).toEqual(["'none'"]);
    expect(policy['img-src']).toEqual(["'none'"]);
    expect(policy['connect-src']).toEqual(["'self'"]);
    for (const asset of assets) {
      const served = await app.request(asset);
      expect(served.status).toBe(200);
      expect(served.headers.get('content-type')).toMatch(asset.endsWith('.js') ? /^text\/javascript/ : /^text\/css/);
      expect(served.headers.get('cache-control')).toContain('immutable');
      const text = await served.text();
      const zipped = await app.request(asset, { headers: { 'accept-encoding': 'gzip, deflate, br' } });
      expect(zipped.headers.get('content-encoding')).toBe('gzip');
      expect(zipped.headers.get('vary')).toBe('Accept-Encoding');
      const bytes = new Uint8Array(await zipped.arrayBuffer());
      expect(bytes.length).toBeLessThan(text.length / 2);
      expect(gunzipSync(bytes).toString('utf8')).toBe(text);
    }
  });

  it('with --auth-token, the page and its assets load without it, and nothing else does', async () => {
    const { app } = await buildTestApp(upstream, { authToken: 'page-secret' });
    const html = await (await app.request('/')).text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]);
    for (const path of ['/', ...assets]) expect((await app.request(path)).status).toBe(200);
    for (const path of ['/session_state', '/docs', '/openapi.json', '/assets/app-000000000000.js', '/events']) {
      expect((await app.request(path)).status).toBe(401);
    }
    expect((await app.request('/', { method: 'POST' })).status).toBe(401);
    expect((await app.request('/', { method: 'HEAD' })).status).toBe(401);
  });

  it('HEAD / gets the same headers as GET /', async () => {
    const { app } = await buildTestApp(upstream);
    const head = await app.request('/', { method: 'HEAD' });
    const get = await app.request('/');
    expect(head.headers.get('content-security-policy')).toBe(get.headers.get('content-security-policy'));
    expect(head.headers.get('x-frame-options')).toBe('DENY');
  });
});
