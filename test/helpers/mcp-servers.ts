import { pathToFileURL } from 'node:url';
import { parseServersConfig } from '../../src/tools/servers-config.js';
import { projectDirectory } from './test-app.js';

const tsxLoader = pathToFileURL(`${projectDirectory}/node_modules/tsx/dist/loader.mjs`).href;

/** servers.json entries for the MCP servers the tests use, parsed as the server parses them. */
export function servers(entries: Record<string, unknown>) {
  return parseServersConfig(JSON.stringify({ mcpServers: entries }), 'test servers.json');
}

/** The real filesystem server from npm, rooted in the session's directory. */
export const filesystemServer = (extra: Record<string, unknown> = {}) => ({
  command: process.execPath,
  args: [
    `${projectDirectory}/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js`,
    // biome-ignore lint/suspicious/noTemplateCurlyInString: servers.json substitution, not a template
    '${CURRENT_DIRECTORY}',
  ],
  ...extra,
});

/** The real "everything" reference server from npm, over stdio. */
export const everythingServer = (extra: Record<string, unknown> = {}) => ({
  command: process.execPath,
  args: [`${projectDirectory}/node_modules/@modelcontextprotocol/server-everything/dist/index.js`, 'stdio'],
  ...extra,
});

/** Our fault server (test/helpers/mcp-fault-server.ts) over stdio, counting runs in `countFile`. */
export const faultServer = (countFile: string, extra: Record<string, unknown> = {}) => ({
  command: process.execPath,
  // tsx by absolute URL: the server starts in the session's directory, where no node_modules is.
  args: ['--import', tsxLoader, `${projectDirectory}/test/helpers/mcp-fault-server.ts`],
  env: { FAULT_COUNT_FILE: countFile },
  ...extra,
});

/** Our changing server (test/helpers/mcp-changing-server.mjs) over stdio, recording deploys in `runFile`. */
export const changingServer = (runFile: string, extra: Record<string, unknown> = {}) => ({
  command: process.execPath,
  args: [`${projectDirectory}/test/helpers/mcp-changing-server.mjs`],
  env: { RUN_FILE: runFile },
  ...extra,
});
