import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { callFailure, failureResult } from './tool-failure.js';
import type { ToolCallOptions, ToolResult } from './tool-provider.js';
import { toolResultText } from './tool-result-text.js';

export interface CallToolOptions extends ToolCallOptions {
  /** The server's name, for the messages the model reads. */
  server: string;
  /** Milliseconds without an answer or progress before the call is cancelled. */
  timeout: number;
}

/** Runs one tool on a connected client. Failures resolve as error results; only an abort of `signal` rejects. */
export async function callTool(
  client: Client,
  name: string,
  args: Record<string, unknown>,
  options: CallToolOptions,
): Promise<ToolResult> {
  const { signal, timeout } = options;
  // A controller of the call's own, linked to the turn's signal only while the call runs: the SDK
  // adds a listener to the signal it is given and never removes it.
  const controller = new AbortController();
  const abort = () => controller.abort(signal.reason);
  signal.addEventListener('abort', abort, { once: true });
  try {
    // The trace context goes in `_meta` (MCP's convention); an HTTP transport sends it as headers too.
    const _meta = options.traceHeaders && { ...options.traceHeaders };
    const result = (await client.callTool({ name, arguments: args, ...(_meta && { _meta }) }, undefined, {
      signal: controller.signal,
      timeout,
      resetTimeoutOnProgress: true,
      onprogress: options.onProgress,
    })) as CallToolResult;
    return { content: toolResultText(result), isError: result.isError === true };
  } catch (error) {
    signal.throwIfAborted();
    // A connected client has loaded the SDK already: this import only looks it up.
    const errors = await import('@modelcontextprotocol/sdk/types.js');
    return failureResult(callFailure(error, options.server, timeout / 1000, errors));
  } finally {
    signal.removeEventListener('abort', abort);
  }
}
