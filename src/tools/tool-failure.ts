import type { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { ToolResult } from './tool-provider.js';

/** Why a tool call produced no result of the tool's own. */
export type ToolFailure =
  | { kind: 'not-started'; server: string }
  | { kind: 'no-free-connection'; server: string }
  | { kind: 'timeout'; seconds: number }
  | { kind: 'server-exited'; server: string }
  | { kind: 'failed'; message: string };

/** The SDK's error type and codes (passed in, so this module does not load the SDK). */
export interface McpErrors {
  McpError: typeof McpError;
  ErrorCode: typeof ErrorCode;
}

/** Classifies an error the MCP SDK threw during a call by its type and code, never by its text. */
export function callFailure(error: unknown, server: string, timeoutSeconds: number, sdk: McpErrors): ToolFailure {
  if (error instanceof sdk.McpError && error.code === sdk.ErrorCode.RequestTimeout) {
    return { kind: 'timeout', seconds: timeoutSeconds };
  }
  if (error instanceof sdk.McpError && error.code === sdk.ErrorCode.ConnectionClosed) {
    return { kind: 'server-exited', server };
  }
  return { kind: 'failed', message: error instanceof Error ? error.message : String(error) };
}

/** The tool result the model reads for a failure. */
export function failureResult(failure: ToolFailure): ToolResult {
  switch (failure.kind) {
    case 'not-started':
      return error(`The MCP server "${failure.server}" could not be started; the tool did not run.`);
    case 'no-free-connection':
      return error(
        `The MCP server "${failure.server}" has no free connection (all are busy); the tool did not run. Try again later.`,
      );
    case 'timeout':
      return error(`The tool did not answer within ${failure.seconds}s and was cancelled.`);
    case 'server-exited':
      return error(`The MCP server "${failure.server}" exited during the call; it restarts on next use.`);
    case 'failed':
      return error(`The tool call failed: ${failure.message}`);
  }
}

const error = (content: string): ToolResult => ({ content, isError: true });
