import type { ToolInfo } from '../tools/tool-provider.js';
import { type DecidedBy, describeRule, type IndexedRule } from './argument-rules.js';
import { type Grant, grantDecidedBy } from './grants.js';

export type PolicyDecision =
  | { kind: 'allow'; by: DecidedBy }
  | { kind: 'deny'; reason: string; by: DecidedBy }
  /** `by`: the `ask` rule that made it ask; absent when nothing decided, so a human is asked. */
  | { kind: 'ask'; by?: DecidedBy };

/** A tool's key: the JSON of `[server, the server's own tool name]`, so no name can pass for another. */
export const toolKey = (server: string, serverToolName: string) => JSON.stringify([server, serverToolName]);

/**
 * Whether a call of `tool` may run without asking. Only configuration and the session's grants
 * decide; nothing the model or a tool result says does. `grant`: the session's grant that covers
 * the call (`findGrant`), if any. `matched`: the server's rules that match the call
 * (`matchRules`). Order: a `deny` rule, the server's `deny` list, an `ask` rule, an `allow` rule,
 * its `autoApprove` list, a grant, then (with --auto-approve-read-only) a `readOnlyHint` without
 * `destructiveHint`. Everything else asks the human. Among rules of one decision, the first in the
 * list is the one named.
 */
export function decide(
  tool: ToolInfo,
  grant: Grant | undefined,
  autoApproveReadOnly: boolean,
  matched: readonly IndexedRule[] = [],
): PolicyDecision {
  const first = (decision: string) => matched.find((indexed) => indexed.rule.decision === decision);
  const byRule = (indexed: IndexedRule): DecidedBy => ({ kind: 'rule', server: tool.server, ...indexed });
  const denying = first('deny');
  if (denying) return { kind: 'deny', reason: `${describeRule(tool.server, denying)} denies it`, by: byRule(denying) };
  if (tool.rule === 'deny') {
    return {
      kind: 'deny',
      reason: `the "deny" list of server "${tool.server}" names this tool`,
      by: { kind: 'list', server: tool.server, list: 'deny' },
    };
  }
  const asking = first('ask');
  if (asking) return { kind: 'ask', by: byRule(asking) };
  const allowing = first('allow');
  if (allowing) return { kind: 'allow', by: byRule(allowing) };
  if (tool.rule === 'allow') return { kind: 'allow', by: { kind: 'list', server: tool.server, list: 'autoApprove' } };
  if (grant) return { kind: 'allow', by: grantDecidedBy(grant) };
  if (autoApproveReadOnly && tool.readOnlyHint === true && tool.destructiveHint !== true) {
    return { kind: 'allow', by: { kind: 'read_only_hint' } };
  }
  return { kind: 'ask' };
}
