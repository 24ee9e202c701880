import { describe, expect, it } from 'vitest';
import { directives, sha256 } from '../helpers/content-security-policy.js';
import { buildTestApp } from '../helpers/test-app.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

// /docs runs on the API's origin, where a script can call every route (approve included). It must
// run only code the package ships, and work with no network: nothing is loaded from elsewhere.

const upstream = useFakeUpstream();

/** Every URL the HTML names: attributes, CSS url(), and string literals that look like paths or URLs. */
function referencedUrls(html: string): string[] {
  const patterns = [
    /\s(?:src|href|action|srcset|data|poster)\s*=\s*["']?([^"'\s>]+)/gi,
    /url\(\s*["']?([^"')]+)/gi,
    /@import\s+["']([^"']+)/gi,
    /["'`]((?:[a-z][a-z0-9+.-]*:)?\/\/[^"'`\s]*)/gi,
    /\b(?:fetch|import)\(\s*["'`]([^"'`]+)/gi,
  ];
  return patterns.flatMap((pattern) => [...html.matchAll(pattern)].map((match) => match[1]));
}

describe('GET /docs', () => {
  it('references only same-origin URLs, and its policy allows nothing else', async () => {
    const { app } = await buildTestApp(upstream);
    const response = await app.request('/docs');
    expect(response.status).toBe(200);
    const html = await response.text();
    const urls = referencedUrls(html);
    for (const url of urls) expect(url, url).toMatch(/^\/(?!\/)/);
    expect(html).not.toMatch(/https?:|\/\/cdn|unpkg|jsdelivr/i);
    expect(urls).toContain('/openapi.json');

    const policy = directives(response.headers.get('content-security-policy'));
    expect(policy['default-src']).toEqual(["'none'"]);
    expect(policy['connect-src']).toEqual(["'self'"]);
    const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((match) => match[1]);
    expect(scripts).toHaveLength(1);
    expect(policy['script-src']).toEqual([sha256(scripts[0])]);
    expect(html).not.toMatch(/<script[^>]*\ssrc=/i);
  });

  it('keeps the framing headers', async () => {
    const { app } = await buildTestApp(upstream);
    const response = await app.request('/docs');
    expect(response.headers.get('x-frame-options')).toBe('DENY');
    expect(directives(response.headers.get('content-security-policy'))['frame-ancestors']).toEqual(["'none'"]);
  });

  it('renders from /openapi.json, which is served from here', async () => {
    const { app } = await buildTestApp(upstream);
    const document = await (await app.request('/openapi.json')).json();
    expect(Object.keys(document.paths)).toContain('/user_request');
    const html = await (await app.request('/docs')).text();
    expect(html).toContain("fetch('/openapi.json'");
  });
});
