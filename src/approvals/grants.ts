import { z } from 'zod';
import { parseDuration } from '../config/duration.js';
import type { ToolCallState } from '../sessions/session-record.js';
import type { ToolInfo } from '../tools/tool-provider.js';
import { type DecidedBy, describeRule } from './argument-rules.js';

const longest = 366 * 86_400_000;
const rememberMessage =
  'must be "once", "call", "session" or an object {"for": "10m" | "session", "arguments"?: "same"}';
const forMessage = 'must be "session" or a duration such as "90s", "10m" or "8h" (at most 366d)';

/**
 * What an approval also approves. `"once"` (or `"call"`): nothing more. `"session"`: later calls
 * of the tool for the rest of the session. `{"for": "10m" | "session", "arguments"?: "same"}`:
 * later calls for that long, only those with exactly these arguments with `"same"`.
 */
export const rememberSchema = z.union(
  [
    z.enum(['once', 'call', 'session'], { error: rememberMessage }),
    z
      .object({
        for: z.string({ error: forMessage }).refine((text) => text === 'session' || durationOf(text) !== undefined, {
          message: forMessage,
        }),
        arguments: z.enum(['any', 'same'], { error: 'must be "same" (only these arguments) or "any"' }).optional(),
      })
      .strict(),
  ],
  { error: rememberMessage },
);

export type Remember = z.infer<typeof rememberSchema>;

/** A duration of `for`, in milliseconds, when it is one the server takes. */
function durationOf(text: string): number | undefined {
  const milliseconds = parseDuration(text);
  return milliseconds !== undefined && milliseconds > 0 && milliseconds <= longest ? milliseconds : undefined;
}

/**
 * An approval that approves later calls of one tool, as the session keeps it. It covers a call of
 * the tool (`server`, `tool`: the server's own name) while the tool's input schema and annotations
 * are those it had when the grant was made (`fingerprint`), before `expires_at`, and, with
 * `arguments: "same"`, only with arguments whose canonical JSON hashes to `arguments_hash`.
 */
export const grantSchema = z.object({
  server: z.string(),
  tool: z.string(),
  fingerprint: z.string(),
  /** `"session"`, or the duration as the approver gave it (`"10m"`). */
  for: z.string(),
  arguments: z.enum(['any', 'same']),
  arguments_hash: z.string().optional(),
  /** The approved call that made the grant. */
  request_id: z.string(),
  /** Epoch milliseconds. */
  granted_at: z.number(),
  /** Epoch milliseconds; absent: the rest of the session. */
  expires_at: z.number().optional(),
});

export type Grant = z.infer<typeof grantSchema>;

/**
 * A session's grants as stored. Strings are the per-tool grants of older versions: they are read,
 * never matched (those tools ask once more), and dropped at the next step.
 */
export const storedGrantsSchema = z.array(z.union([grantSchema, z.string()]));

/** How many grants a session keeps; the oldest go first. */
export const maxGrants = 100;

/** The grant `remember` makes when the approval of `call` is applied at `now`; none for `once`. */
export function makeGrant(
  call: ToolCallState,
  remember: Remember | undefined,
  context: { now: number; argumentsHash?: string },
): Grant | undefined {
  if (remember === undefined || remember === 'once' || remember === 'call') return undefined;
  // Calls saved before calls carried their tool's identity and fingerprint make no grant.
  if (call.server_tool_name === undefined || call.tool_fingerprint === undefined) return undefined;
  const scope = remember === 'session' ? { for: 'session' } : remember;
  const duration = scope.for === 'session' ? undefined : durationOf(scope.for);
  const same = scope.arguments === 'same';
  if (same && context.argumentsHash === undefined) return undefined;
  return {
    server: call.server,
    tool: call.server_tool_name,
    fingerprint: call.tool_fingerprint,
    for: scope.for.trim(),
    arguments: same ? 'same' : 'any',
    ...(same ? { arguments_hash: context.argumentsHash } : {}),
    request_id: call.request_id,
    granted_at: context.now,
    ...(duration !== undefined ? { expires_at: context.now + duration } : {}),
  };
}

const isGrant = (grant: Grant | string): grant is Grant => typeof grant !== 'string';

/**
 * The first grant that covers a call of `tool` at `now` with arguments hashing to `argumentsHash`.
 * Without `now`, time is not checked (the grants were pruned when read); without `argumentsHash`,
 * only grants for any arguments count.
 */
export function findGrant(
  grants: readonly (Grant | string)[],
  tool: ToolInfo,
  call: { now?: number; argumentsHash?: string },
): Grant | undefined {
  return grants
    .filter(isGrant)
    .find(
      (grant) =>
        grant.server === tool.server &&
        grant.tool === tool.serverToolName &&
        grant.fingerprint === tool.fingerprint &&
        (grant.expires_at === undefined || call.now === undefined || call.now < grant.expires_at) &&
        (grant.arguments === 'any' ||
          (call.argumentsHash !== undefined && grant.arguments_hash === call.argumentsHash)),
    );
}

/**
 * The grants that can still cover a call: not expired at `now` (unchecked without it), and not
 * made for a tool whose input schema or annotations `tools` (a fresh listing) shows changed since.
 * At most the newest `maxGrants`. A tool missing from the listing keeps its grants.
 */
export function liveGrants(grants: readonly (Grant | string)[], tools: readonly ToolInfo[], now?: number): Grant[] {
  const fingerprints = new Map(tools.map((tool) => [JSON.stringify([tool.server, tool.serverToolName]), tool]));
  return grants
    .filter(isGrant)
    .filter((grant) => {
      if (grant.expires_at !== undefined && now !== undefined && grant.expires_at <= now) return false;
      const tool = fingerprints.get(JSON.stringify([grant.server, grant.tool]));
      return tool === undefined || tool.fingerprint === grant.fingerprint;
    })
    .slice(-maxGrants);
}

/** Adds `grant`, replacing one of the same scope, and keeps the newest `maxGrants`. */
export function addGrant(grants: (Grant | string)[], grant: Grant) {
  const same = (other: Grant | string) =>
    isGrant(other) &&
    other.server === grant.server &&
    other.tool === grant.tool &&
    other.arguments === grant.arguments &&
    other.arguments_hash === grant.arguments_hash;
  const kept = grants.filter((other) => !same(other));
  kept.push(grant);
  grants.splice(0, grants.length, ...kept.slice(-maxGrants));
}

/** `decided_by` of a call a grant let run: which grant, and what it covers. */
export function grantDecidedBy(grant: Grant): DecidedBy {
  return {
    kind: 'grant',
    server: grant.server,
    tool: grant.tool,
    for: grant.for,
    arguments: grant.arguments,
    request_id: grant.request_id,
    granted_at: new Date(grant.granted_at).toISOString(),
    ...(grant.expires_at !== undefined ? { expires_at: new Date(grant.expires_at).toISOString() } : {}),
  };
}

/** One choice of `remember` for a pending call, and what it would approve besides the call. */
export const grantOptionSchema = z.object({
  remember: rememberSchema,
  covers: z.string(),
});

export type GrantOption = z.infer<typeof grantOptionSchema>;

/** The `for` offered beside `"session"`. */
export const offeredDuration = '10m';

/**
 * What each choice of `remember` would approve if the approver picked it for `call`: the card and
 * `approval_required` show these. `decidedBy`: the `ask` rule that made the call ask, which asks
 * again whatever is granted.
 */
export function grantOptions(call: ToolCallState, decidedBy?: DecidedBy): GrantOption[] {
  const tool = `calls of "${call.server_tool_name ?? call.name}" on server "${call.server}"`;
  const until = ' while its input schema and annotations stay as they are';
  const asking =
    decidedBy?.kind === 'rule' && decidedBy.rule.decision === 'ask'
      ? `; calls that ${describeRule(decidedBy.server, decidedBy)} matches still ask`
      : '';
  return [
    { remember: 'once', covers: 'this call only' },
    {
      remember: { for: offeredDuration },
      covers: `this call and later ${tool} with any arguments, for 10 minutes from the approval,${until}${asking}`,
    },
    {
      remember: 'session',
      covers: `this call and later ${tool} with any arguments, for the rest of the session,${until}${asking}`,
    },
    {
      remember: { for: 'session', arguments: 'same' },
      covers: `this call and later ${tool} with exactly these arguments, for the rest of the session,${until}${asking}`,
    },
  ];
}
