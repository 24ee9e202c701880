import { describe, expect, it } from 'vitest';
import { directives, sha256 } from '../helpers/content-security-policy.js';
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
  it('scripts and styles only by the hashes of the inline ones, which match the page', async () => {
    const { app } = await buildTestApp(upstream);
    const response = await app.request('/');
    const policy = directives(response.headers.get('content-security-policy'));
    const html = await response.text();
    const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((match) => match[1]);
    const styles = [...html.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((match) => match[1]);
    expect(scripts).toHaveLength(1);
    expect(styles).toHaveLength(1);
    // A browser runs an inline script only when the policy lists the SHA-256 of its exact text.
    expect(policy['script-src']).toEqual([sha256(scripts[0])]);
    expect(policy['style-src']).toEqual([sha256(styles[0])]);
    expect(policy['default-src']).toEqual(["'none'"]);
    // What the page's script uses: fetch and EventSource to its own origin.
    expect(policy['connect-src']).toEqual(["'self'"]);
    expect(html).not.toMatch(/\son[a-z]+=/i);
  });

  it('HEAD / gets the same headers as GET /', async () => {
    const { app } = await buildTestApp(upstream);
    const head = await app.request('/', { method: 'HEAD' });
    const get = await app.request('/');
    expect(head.headers.get('content-security-policy')).toBe(get.headers.get('content-security-policy'));
    expect(head.headers.get('x-frame-options')).toBe('DENY');
  });
});
