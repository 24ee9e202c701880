/**
 * A tiny real MCP server (the SDK's `McpServer`) over stdio, for the tests that count child processes.
 *
 * At start it creates an empty file named after its pid in the directory `PID_DIRECTORY`, so a test can
 * tell which of its children are alive (`process.kill(pid, 0)`). It offers one tool, `pid`, and exits
 * when its stdin closes. Plain JavaScript, so dozens of them start without a TypeScript loader.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';

writeFileSync(join(process.env.PID_DIRECTORY ?? '.', String(process.pid)), '');
const server = new McpServer({ name: 'pid-server', version: '1.0.0' });
server.registerTool('pid', { description: 'Answers the process id of the server.' }, async () => ({
  content: [{ type: 'text', text: String(process.pid) }],
}));
process.stdin.on('end', () => process.exit(0));
await server.connect(new StdioServerTransport());
