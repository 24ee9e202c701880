import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Handler } from 'hono';
import { pageAssets } from '../page-assets.generated.js';

const shell = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>llm-chat-server</title>
<link rel="stylesheet" href="${pageAssets.stylePath}">
<script type="module" src="${pageAssets.scriptPath}"></script>
</head>
<body data-mode="loading">
<div class="app">
<nav id="sidebar" class="sidebar" aria-label="Chats">
<button type="button" id="new-chat">New chat</button>
<h2>Chats in this browser</h2>
<ul id="chats"></ul>
</nav>
<main class="main">
<header class="top">
<button type="button" id="toggle-chats" aria-controls="sidebar" aria-expanded="false">Chats</button>
<h1>llm-chat-server</h1>
<span id="connection" role="status"></span>
</header>
<form id="token-form" hidden>
<p id="token-message"></p>
<label for="token">Access token</label>
<input id="token" type="password" autocomplete="off" required>
<button type="submit">Use token</button>
</form>
<div id="notice" role="alert" hidden></div>
<section id="log" aria-label="Conversation" tabindex="0"></section>
<div id="announcer" class="visually-hidden" aria-live="polite"></div>
<form id="composer">
<label for="input" class="visually-hidden">Message</label>
<textarea id="input" rows="1" aria-describedby="input-hint" disabled></textarea>
<span id="input-hint" class="visually-hidden">Enter sends; Shift+Enter adds a line.</span>
<button type="submit" id="send" disabled>Send</button>
<button type="button" id="stop" hidden>Stop</button>
</form>
</main>
</div>
</body>
</html>`;

/**
 * No inline script or style, nothing from elsewhere: the page's own bundle, requests to this origin
 * only, no images at all (model output never loads anything), and never framed.
 */
const contentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'none'",
  "form-action 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Compressed once, on first request: the page's first load is about a third of its size. */
const gzip = (text: string) =>
  new Response(new Blob([text]).stream().pipeThrough(new CompressionStream('gzip'))).arrayBuffer();

/** The page's paths, which hold no data and so load without the token (GET only). */
export const pagePaths = new Set(['/', pageAssets.scriptPath, pageAssets.stylePath]);

/**
 * GET /: the chat page, a shell that loads one script and one stylesheet (built from src/page/ by
 * `npm run build`), named by their content's hash so browsers may keep them for good.
 */
export function chatPageRoutes(app: OpenAPIHono) {
  app.get('/', (c) => {
    c.header('Content-Security-Policy', contentSecurityPolicy);
    c.header('X-Frame-Options', 'DENY');
    c.header('Cache-Control', 'no-cache');
    return c.html(shell);
  });
  const asset = (body: string, type: string): Handler => {
    let zipped: Promise<ArrayBuffer> | undefined;
    return async (c) => {
      const headers: Record<string, string> = {
        'Content-Type': type,
        'Cache-Control': 'public, max-age=31536000, immutable',
        'X-Content-Type-Options': 'nosniff',
        Vary: 'Accept-Encoding',
      };
      if (!/\bgzip\b/.test(c.req.header('accept-encoding') ?? '')) return new Response(body, { headers });
      zipped ??= gzip(body);
      return new Response(await zipped, { headers: { ...headers, 'Content-Encoding': 'gzip' } });
    };
  };
  app.get(pageAssets.scriptPath, asset(pageAssets.script, 'text/javascript; charset=utf-8'));
  app.get(pageAssets.stylePath, asset(pageAssets.style, 'text/css; charset=utf-8'));
}
