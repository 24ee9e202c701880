import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { lazy } from '../lazy.js';
import type { Logger } from '../logger.js';
import type { StdioServerSpec } from '../tools/mcp-tool-provider.js';

const loadStdio = lazy(() => import('@modelcontextprotocol/sdk/client/stdio.js'));

/**
 * Starts a stdio MCP server in the session's directory. Its stderr goes to the debug log rather
 * than ours, so a chatty server cannot flood the console. The SDK's stdio transport loads with
 * the first server started.
 */
export function createStdioStarter(logger: Logger) {
  return async (spec: StdioServerSpec): Promise<Transport> => {
    const { getDefaultEnvironment, StdioClientTransport } = await loadStdio();
    const transport = new StdioClientTransport({
      command: spec.command,
      args: spec.args,
      // Only the SDK's safe subset of our environment (PATH, HOME, …): never our API key.
      env: { ...getDefaultEnvironment(), ...spec.env },
      cwd: spec.cwd,
      stderr: 'pipe',
    });
    transport.stderr?.on('data', (chunk: Buffer) => logger.debug(`[${spec.command}] ${chunk.toString().trimEnd()}`));
    return transport;
  };
}
