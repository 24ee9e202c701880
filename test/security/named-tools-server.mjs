/**
 * A tiny real MCP server (the SDK's `McpServer`) over stdio whose tools are named by the test.
 *
 *     node named-tools-server.mjs <label> <tool>,<tool>,…
 *
 * Offers the named tools. Each tool's description is `<label>:<name>`; calling it appends that line
 * to the file `RUN_FILE` (when set) and answers `ran <label>:<name>`.
 * `print_environment`, when listed, answers the server's whole environment as JSON and sends it as
 * a progress message first. Plain JavaScript, so it starts without a TypeScript loader.
 */
import { appendFileSync } from 'node:fs';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';

const [label = 'server', toolNames = ''] = process.argv.slice(2);
const server = new McpServer({ name: `named-tools-${label}`, version: '1.0.0' });
for (const name of toolNames.split(',').filter(Boolean)) {
  const identity = `${label}:${name}`;
  server.registerTool(name, { description: identity }, async (extra) => {
    if (process.env.RUN_FILE) appendFileSync(process.env.RUN_FILE, `${identity}\n`);
    if (name !== 'print_environment') return { content: [{ type: 'text', text: `ran ${identity}` }] };
    const environment = JSON.stringify(process.env);
    const progressToken = extra._meta?.progressToken;
    if (progressToken !== undefined) {
      await extra.sendNotification({
        method: 'notifications/progress',
        params: { progressToken, progress: 1, total: 2, message: environment },
      });
      // The SDK's client drops a progress notification that arrives right before the result.
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return { content: [{ type: 'text', text: environment }] };
  });
}
process.stdin.on('end', () => process.exit(0));
await server.connect(new StdioServerTransport());
