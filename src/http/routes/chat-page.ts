import type { OpenAPIHono } from '@hono/zod-openapi';
import { inlinePage } from '../inline-page.js';

const style = `
  body { font: 15px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; }
  #log { white-space: pre-wrap; border: 1px solid #ccc; border-radius: 6px; padding: 1rem; min-height: 12rem; }
  .user { color: #0b5394; } .tool { color: #6a329f; font-size: 13px; } .error { color: #b00; }
  .approval { border: 1px solid #e69138; border-radius: 6px; padding: .5rem; margin: .5rem 0; }
  form { display: flex; gap: .5rem; margin-top: 1rem; } input { flex: 1; padding: .5rem; }
`;

const script = `
const log = document.getElementById('log');
const token = () => sessionStorage.getItem('token') || '';
const headers = () => ({ 'content-type': 'application/json', ...(token() ? { authorization: 'Bearer ' + token() } : {}) });
const line = (text, kind) => { const span = document.createElement('div'); span.className = kind || ''; span.textContent = text; log.append(span); return span; };
async function ensureToken() {
  const probe = await fetch('/session_state', { headers: headers() });
  if (probe.status === 401) { sessionStorage.setItem('token', prompt('Auth token of this server') || ''); }
}
function ask(input) {
  line('> ' + input, 'user');
  let answer = null;
  const query = new URLSearchParams({ input });
  if (token()) query.set('access_token', token());
  const events = new EventSource('/user_request?' + query);
  events.addEventListener('token', (e) => {
    if (!answer || log.lastChild !== answer) answer = line('');
    answer.textContent += JSON.parse(e.data).content;
  });
  events.addEventListener('approval_required', (e) => {
    const { request_id, tool } = JSON.parse(e.data);
    const box = line('Run ' + tool.server + '/' + tool.name + ' ' + JSON.stringify(tool.arguments) + '? ', 'approval');
    for (const [label, approve] of [['Approve', true], ['Deny', false]]) {
      const button = document.createElement('button');
      button.textContent = label;
      button.onclick = async () => {
        box.querySelectorAll('button').forEach((b) => (b.disabled = true));
        const body = approve ? { request_id, approve } : { request_id, approve, reason: 'denied in the chat page' };
        const response = await fetch('/approve', { method: 'POST', headers: headers(), body: JSON.stringify(body) });
        box.append(response.ok ? (approve ? ' approved' : ' denied') : ' failed: ' + response.status);
      };
      box.append(button);
    }
  });
  events.addEventListener('tool_result', (e) => { const d = JSON.parse(e.data); line('[' + d.tool.name + '] ' + d.content.slice(0, 500), 'tool'); });
  events.addEventListener('done', () => events.close());
  events.addEventListener('error', (e) => { if (e.data) line(JSON.parse(e.data).error.message, 'error'); events.close(); });
}
document.getElementById('ask').onsubmit = async (e) => {
  e.preventDefault();
  const input = document.getElementById('input');
  await ensureToken();
  ask(input.value);
  input.value = '';
};
`;

const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>llm-chat-server</title>
<style>${style}</style>
</head>
<body>
<h1>llm-chat-server</h1>
<div id="log"></div>
<form id="ask"><input id="input" placeholder="Ask something" autocomplete="off" required><button>Send</button></form>
<script>${script}</script>
</body>
</html>`;

/**
 * GET /: a small chat page. Streams with EventSource (GET /user_request), shows each tool call
 * that needs a decision with Approve and Deny buttons (POST /approve), and follows the
 * continuation on the same stream. With --auth-token it asks for the token once per tab.
 */
export function chatPageRoutes(app: OpenAPIHono) {
  app.get('/', inlinePage({ html: page, script, style }));
}
