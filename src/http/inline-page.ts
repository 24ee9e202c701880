import type { Handler } from 'hono';

const sha256 = async (text: string) => {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
  return `'sha256-${btoa(String.fromCharCode(...digest))}'`;
};

export interface InlinePage {
  /** The whole document, which holds `script` and `style` inline, verbatim. */
  html: string;
  script: string;
  style: string;
}

/**
 * Serves a page made of one inline script and one inline style under a Content-Security-Policy
 * that runs only those two (by hash), lets it request only this origin, loads nothing from
 * elsewhere, and forbids framing it (its buttons must not be clickjacked).
 */
export function inlinePage(page: InlinePage): Handler {
  let policy: Promise<string> | undefined;
  const contentSecurityPolicy = () =>
    (policy ??= Promise.all([sha256(page.script), sha256(page.style)]).then(([scriptHash, styleHash]) =>
      [
        "default-src 'none'",
        `script-src ${scriptHash}`,
        `style-src ${styleHash}`,
        "connect-src 'self'",
        "img-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
      ].join('; '),
    ));
  return async (c) => {
    c.header('Content-Security-Policy', await contentSecurityPolicy());
    c.header('X-Frame-Options', 'DENY');
    return c.html(page.html);
  };
}
