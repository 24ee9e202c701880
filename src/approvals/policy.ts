import type { ToolInfo } from '../tools/tool-provider.js';

export type PolicyDecision = { kind: 'allow' } | { kind: 'deny'; reason: string } | { kind: 'ask' };

/**
 * The key a `remember: "session"` grant is stored under: the JSON of `[server, the server's own tool
 * name]`, so no name can pass for another. Keys of the old `server/name` form are never matched:
 * such a grant asks again.
 */
export const grantKey = (server: string, serverToolName: string) => JSON.stringify([server, serverToolName]);

/**
 * Whether a call of `tool` may run without asking. Only configuration and the session's grants
 * decide; nothing the model or a tool result says does. Order: the server's `deny` list, its
 * `autoApprove` list, a session grant, then (with --auto-approve-read-only) a `readOnlyHint`
 * without `destructiveHint`. Everything else asks the human.
 */
export function decide(tool: ToolInfo, grants: readonly string[], autoApproveReadOnly: boolean): PolicyDecision {
  if (tool.rule === 'deny') return { kind: 'deny', reason: 'The server configuration denies this tool.' };
  if (tool.rule === 'allow') return { kind: 'allow' };
  if (grants.includes(grantKey(tool.server, tool.serverToolName))) return { kind: 'allow' };
  if (autoApproveReadOnly && tool.readOnlyHint === true && tool.destructiveHint !== true) return { kind: 'allow' };
  return { kind: 'ask' };
}
