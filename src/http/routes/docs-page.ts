import type { OpenAPIHono } from '@hono/zod-openapi';
import { inlinePage } from '../inline-page.js';

const style = `
  body { font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }
  details { border: 1px solid #ccc; border-radius: 6px; margin: .5rem 0; padding: .25rem .75rem; }
  summary { cursor: pointer; } summary code { font-weight: 600; }
  .method { display: inline-block; min-width: 4rem; font: 600 13px monospace; text-transform: uppercase; }
  .get { color: #0b5394; } .post { color: #38761d; } .error { color: #b00; }
  pre { background: #f6f6f6; border-radius: 4px; padding: .5rem; overflow: auto; font-size: 13px; }
  h3 { font-size: 15px; margin: .75rem 0 .25rem; }
`;

// Builds the page with textContent only: descriptions in the document are text, never markup.
const script = `
const main = document.getElementById('main');
const add = (parent, tag, text, className) => {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  parent.append(node);
  return node;
};
function expand(schema, components, seen) {
  if (Array.isArray(schema)) return schema.map((item) => expand(item, components, seen));
  if (!schema || typeof schema !== 'object') return schema;
  const ref = typeof schema.$ref === 'string' ? schema.$ref.replace('#/components/schemas/', '') : undefined;
  if (ref !== undefined && components[ref] && !seen.includes(ref)) return expand(components[ref], components, [...seen, ref]);
  return Object.fromEntries(Object.entries(schema).map(([key, value]) => [key, expand(value, components, seen)]));
}
function schemaBlock(parent, title, content, components) {
  for (const [type, media] of Object.entries(content || {})) {
    add(parent, 'h3', title + ' (' + type + ')');
    add(parent, 'pre', JSON.stringify(expand(media.schema, components, []), null, 2));
  }
}
function render(document_) {
  const components = (document_.components && document_.components.schemas) || {};
  add(main, 'h1', document_.info.title + ' ' + document_.info.version);
  if (document_.info.description) add(main, 'p', document_.info.description);
  for (const [path, operations] of Object.entries(document_.paths || {})) {
    for (const [method, operation] of Object.entries(operations)) {
      const details = add(main, 'details');
      const summary = add(details, 'summary');
      add(summary, 'span', method, 'method ' + method);
      add(summary, 'code', path);
      if (operation.summary) summary.append(' ' + operation.summary);
      if (operation.description) add(details, 'p', operation.description);
      if (operation.parameters && operation.parameters.length) {
        add(details, 'h3', 'Parameters');
        const list = add(details, 'ul');
        for (const parameter of operation.parameters) {
          const text = parameter.name + ' (' + parameter.in + (parameter.required ? ', required' : '') + ')';
          add(list, 'li', text + (parameter.description || (parameter.schema && parameter.schema.description) ? ': ' + (parameter.description || parameter.schema.description) : ''));
        }
      }
      if (operation.requestBody) schemaBlock(details, 'Request body', operation.requestBody.content, components);
      for (const [status, response] of Object.entries(operation.responses || {})) {
        add(details, 'h3', status + ' ' + (response.description || ''));
        schemaBlock(details, 'Body', response.content, components);
      }
    }
  }
}
async function load() {
  const token = sessionStorage.getItem('token');
  const response = await fetch('/openapi.json', { headers: token ? { authorization: 'Bearer ' + token } : {} });
  if (response.status === 401) {
    const given = prompt('Auth token of this server');
    if (given) { sessionStorage.setItem('token', given); return load(); }
  }
  if (!response.ok) return add(main, 'p', 'GET /openapi.json answered ' + response.status, 'error');
  render(await response.json());
}
load().catch((error) => add(main, 'p', String(error), 'error'));
`;

const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>llm-chat-server API</title>
<style>${style}</style>
</head>
<body>
<main id="main"><p>The OpenAPI document is at <a href="/openapi.json">/openapi.json</a>.</p></main>
<script>${script}</script>
</body>
</html>`;

/**
 * GET /docs: the API's reference, rendered in the browser from `/openapi.json` by a script of its
 * own. Nothing is loaded from another origin, so it works offline and runs only code we ship.
 */
export function docsPageRoutes(app: OpenAPIHono) {
  app.get('/docs', inlinePage({ html: page, script, style }));
}
