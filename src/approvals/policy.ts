import type { ToolInfo } from '../tools/tool-provider.js';

export type PolicyDecision = { kind: 'allow' } | { kind: 'deny'; reason: string } | { kind: 'ask' };

/** The key a `remember: "session"` grant is stored under. */
export const grantKey = (tool: { server: string; name: string }) => `${tool.server}/${tool.name}`;

/**
 * Whether a call of `tool` may run without asking. Only configuration and the session's grants
 * decide; nothing the model or a tool result says does. Order: the server's `deny` list, its
 * `autoApprove` list, a session grant, then (with --auto-approve-read-only) a `readOnlyHint`
 * without `destructiveHint`. Everything else asks the human.
 */
export function decide(tool: ToolInfo, grants: readonly string[], autoApproveReadOnly: boolean): PolicyDecision {
  if (tool.rule === 'deny') return { kind: 'deny', reason: 'The server configuration denies this tool.' };
  if (tool.rule === 'allow') return { kind: 'allow' };
  if (grants.includes(grantKey(tool))) return { kind: 'allow' };
  if (autoApproveReadOnly && tool.readOnlyHint === true && tool.destructiveHint !== true) return { kind: 'allow' };
  return { kind: 'ask' };
}
