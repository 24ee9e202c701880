import type { LocatedPath } from '../sessions/directory-guard.js';
import type { ToolCallState } from '../sessions/session-record.js';
import type { ToolInfo } from '../tools/tool-provider.js';
import { type ArgumentIssue, validateArguments } from '../tools/validate-arguments.js';
import { matchRules } from './match-rules.js';
import { decide } from './policy.js';

/**
 * What stops `args`, edited by the approver, from replacing the arguments of `call`: the tool's
 * input schema (from `tools`, a fresh listing), then the server's configuration, which must not
 * refuse them (a `deny` rule matching the edited arguments, or the `deny` list). An `ask` rule is
 * the approver's to answer, and is answered. Paths are from the arguments' root.
 */
export async function checkEditedArguments(
  call: ToolCallState,
  args: Record<string, unknown>,
  tools: readonly ToolInfo[],
  locate: (path: string) => Promise<LocatedPath>,
): Promise<ArgumentIssue[]> {
  const tool = tools.find(
    (candidate) => candidate.server === call.server && candidate.serverToolName === call.server_tool_name,
  );
  if (!tool) return [{ path: '', message: `cannot be checked: the tool "${call.name}" is no longer offered` }];
  const issues = await validateArguments(tool.inputSchema, args);
  if (issues.length > 0) return issues;
  const matched = tool.rules?.length ? await matchRules(tool.rules, args, locate) : [];
  const decision = decide(tool, undefined, false, matched);
  if (decision.kind !== 'deny') return [];
  const named = decision.by.kind === 'rule' ? Object.keys(decision.by.rule.arguments)[0] : undefined;
  return [{ path: named ?? '', message: `are refused without asking: ${decision.reason}` }];
}
