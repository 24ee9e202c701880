import { z } from 'zod';

const decisionSchema = z.enum(['allow', 'ask', 'deny'], { error: 'must be "allow", "ask" or "deny"' });
const patternSchema = z
  .string({ error: 'an argument pattern must be a glob string, such as "docs/**"' })
  .min(1, 'an argument pattern must not be empty');

/** A rule as the session's views and events show it: the tool glob, the argument globs, the decision. */
export const argumentRuleSchema = z.object({
  /** A glob over the server's own tool names (`*`: every tool of the server). */
  tool: z.string(),
  /** Argument name → glob its value must match; every one must match for the rule to apply. */
  arguments: z.record(z.string(), z.string()),
  decision: z.enum(['allow', 'ask', 'deny']),
});

export type ArgumentRule = z.infer<typeof argumentRuleSchema>;
export type RuleDecision = ArgumentRule['decision'];

/**
 * A rule as servers.json writes it: `{"tool": "write_file", "path": "docs/**", "decision": "allow"}`.
 * Every key but `tool` and `decision` names an argument; an argument called `tool`, `decision` or
 * `arguments` goes in an `arguments` object instead.
 */
export const ruleInputSchema = z
  .object({
    tool: z
      .string({ error: 'must be a tool name or glob ("*" for every tool of the server)' })
      .min(1, 'must not be empty ("*" for every tool of the server)'),
    decision: decisionSchema,
    arguments: z.record(z.string(), patternSchema).optional(),
  })
  .catchall(patternSchema)
  .superRefine((rule, context) => {
    const { tool, decision, arguments: nested, ...beside } = rule;
    for (const name of Object.keys(nested ?? {})) {
      if (Object.hasOwn(beside, name)) {
        context.addIssue({ code: 'custom', path: [name], message: `argument "${name}" is given twice` });
      }
    }
  })
  .transform(
    ({ tool, decision, arguments: nested, ...beside }): ArgumentRule => ({
      tool,
      arguments: { ...(beside as Record<string, string>), ...nested },
      decision,
    }),
  );

/** One of a server's rules with its place in the server's `rules` list (0 for the first). */
export interface IndexedRule {
  index: number;
  rule: ArgumentRule;
}

/**
 * What decided a call without a human's decision, or made it ask. Absent: nothing matched, so it
 * asked. `rule`: the server's `rules[index]`; `list`: the server's `deny` or `autoApprove` (or
 * `alwaysAllow`) list; `grant`: an earlier approval with `remember` (see `grantDecidedBy`; records
 * saved before grants had a scope hold `{ kind: "grant" }` alone); `read_only_hint`: the tool's
 * `readOnlyHint` under --auto-approve-read-only.
 */
export const decidedBySchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('rule'), server: z.string(), index: z.number().int(), rule: argumentRuleSchema }),
  z.object({ kind: z.literal('list'), server: z.string(), list: z.enum(['deny', 'autoApprove']) }),
  z.object({
    kind: z.literal('grant'),
    server: z.string().optional(),
    /** The server's own name of the tool. */
    tool: z.string().optional(),
    /** `"session"`, or how long the grant lasts as the approver gave it (`"10m"`). */
    for: z.string().optional(),
    /** `same`: only calls with exactly the arguments approved. */
    arguments: z.enum(['any', 'same']).optional(),
    /** The approved call whose `remember` made the grant. */
    request_id: z.string().optional(),
    granted_at: z.string().optional(),
    expires_at: z.string().optional(),
  }),
  z.object({ kind: z.literal('read_only_hint') }),
]);

export type DecidedBy = z.infer<typeof decidedBySchema>;

/** The rule in a few words, for a denial's reason and for warnings: `rules[1] of server "files" (tool "*", path "**\/.env")`. */
export function describeRule(server: string, { index, rule }: IndexedRule): string {
  const patterns = Object.entries(rule.arguments).map(([name, pattern]) => `, ${name} "${pattern}"`);
  return `rules[${index}] of server "${server}" (tool "${rule.tool}"${patterns.join('')})`;
}
