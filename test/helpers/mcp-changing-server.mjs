/**
 * A small real MCP server (the SDK's `McpServer`) over stdio whose tool `deploy` changes when asked.
 *
 *     node test/helpers/mcp-changing-server.mjs
 *
 * `deploy` ({ target }) appends `deploy <target>` to the file `RUN_FILE` (when set) and answers
 * `deployed <target>`. `change_schema` adds an optional `force` argument to deploy's input schema,
 * `change_annotations` marks deploy destructive, and `change_description` changes only its
 * description: each makes the server send `notifications/tools/list_changed`. Plain JavaScript, so
 * it starts without a TypeScript loader.
 */
import { appendFileSync } from 'node:fs';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const text = (value) => ({ content: [{ type: 'text', text: value }] });
const server = new McpServer({ name: 'mcp-changing-server', version: '1.0.0' });

const deploy = server.registerTool(
  'deploy',
  { description: 'Deploys the target.', inputSchema: { target: z.string() } },
  async ({ target }) => {
    if (process.env.RUN_FILE) appendFileSync(process.env.RUN_FILE, `deploy ${target}\n`);
    return text(`deployed ${target}`);
  },
);

server.registerTool('change_schema', { description: "Adds `force` to deploy's arguments." }, async () => {
  deploy.update({ paramsSchema: { target: z.string(), force: z.boolean().optional() } });
  return text('schema changed');
});

server.registerTool('change_annotations', { description: 'Marks deploy destructive.' }, async () => {
  deploy.update({ annotations: { destructiveHint: true } });
  return text('annotations changed');
});

server.registerTool('change_description', { description: "Changes deploy's description only." }, async () => {
  deploy.update({ description: 'Deploys the target, carefully.' });
  return text('description changed');
});

process.stdin.on('end', () => process.exit(0));
await server.connect(new StdioServerTransport());
