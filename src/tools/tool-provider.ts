import type { IndexedRule } from '../approvals/argument-rules.js';

/** A tool the model may be offered, from one MCP server. */
export interface ToolInfo {
  /**
   * The name offered to the model, unique in a listing: the server's own, or `server__name` where
   * two servers share it (see `offeredToolNames`). Only the model's calls are resolved by it; a
   * tool is identified by `server` and `serverToolName`.
   */
  name: string;
  /** The server's key in servers.json. */
  server: string;
  /** The name the MCP server knows the tool by. */
  serverToolName: string;
  description: string;
  /** JSON Schema of the arguments. */
  inputSchema: Record<string, unknown>;
  /**
   * A hash of the tool's input schema and MCP annotations: it changes when the server changes
   * either (announced by `notifications/tools/list_changed`), which ends the session grants made
   * for the tool as it was.
   */
  fingerprint: string;
  /** What the server's configuration says of the tool before any session grant. */
  rule: 'allow' | 'deny' | 'ask';
  /** The server's `rules` whose tool glob matches this tool, in their order; their arguments decide whether one applies to a call. */
  rules?: readonly IndexedRule[];
  /** MCP annotations, untrusted hints unless --auto-approve-read-only. */
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
}

/** What a tool call produced, as text the model reads. */
export interface ToolResult {
  content: string;
  isError: boolean;
}

export interface ToolCallOptions {
  /** Aborting cancels the call (the MCP client sends `notifications/cancelled`). */
  signal: AbortSignal;
  /** Called for each progress notification of the call. */
  onProgress?: (progress: { progress: number; total?: number; message?: string }) => void;
  /**
   * The trace context of the call's span (W3C `traceparent`, maybe `tracestate`), sent with the
   * call: in its `params._meta` (MCP's convention) and, to an HTTP server, as headers of the request
   * that carries it. Absent when nothing is traced.
   */
  traceHeaders?: Record<string, string>;
}

/**
 * `idle`: no connection is kept (a plain Worker opens one per request) and none was made here yet;
 * `disabled`: the runtime cannot start it (stdio on Workers) or servers.json disables it.
 */
export const serverStatuses = ['connected', 'connecting', 'idle', 'failed', 'disabled'] as const;
export type ServerStatus = (typeof serverStatuses)[number];

/**
 * The port to the tools of the configured MCP servers. Connections are per working directory:
 * each session's directory is the servers' root (and stdio servers' cwd).
 */
export interface ToolProvider {
  /** The tools offered to a session working in `directory`; servers that fail are left out. */
  list(directory: string): Promise<ToolInfo[]>;
  /**
   * Runs the tool once. Never retried. A failure of the tool or its server (error result, crash,
   * timeout) resolves as a result with `isError`; only an abort through `signal` rejects.
   */
  call(directory: string, tool: ToolInfo, args: Record<string, unknown>, options: ToolCallOptions): Promise<ToolResult>;
  /** Each configured server's state, for `/health`. */
  status(): Record<string, ServerStatus>;
  /** Closes every connection and stops every stdio server. */
  close(): Promise<void>;
}

/** No MCP servers configured. */
export const noTools: ToolProvider = {
  list: async () => [],
  call: async () => ({ content: 'No tools are configured.', isError: true }),
  status: () => ({}),
  close: async () => {},
};
