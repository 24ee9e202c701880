import { z } from 'zod';
import { decidedBySchema } from './argument-rules.js';

/**
 * Who decided a call, for the audit trail: a person (`user`, with the chat token, or `approver`,
 * with --approver-token), the configuration (`decided_by`'s `rule`, `list`, `grant`,
 * `read_only_hint`), `expiry` (--approval-ttl), or `turn_end`: the turn ended while the call waited
 * (a stop, a new request, a failure or a restart; `reason` says which).
 */
export const auditDeciderSchema = z.union([
  decidedBySchema,
  z.object({ kind: z.enum(['user', 'approver', 'expiry', 'turn_end']) }),
]);

export type AuditDecider = z.infer<typeof auditDeciderSchema>;

/**
 * One decision on one tool call and how the call ended: written once, when the call's fate is
 * sealed (a denial or expiry at once, an approval when its run ends or it is known not to run).
 * Holds no arguments (only the SHA-256 of their canonical JSON), no result and no secret.
 */
export const auditEntrySchema = z.object({
  session_id: z.string(),
  request_id: z.string(),
  /** The tool as offered to the model, and its MCP server. */
  tool: z.string(),
  server: z.string(),
  /** Hex SHA-256 of the arguments' canonical JSON (`argumentsHash`): what ran, without what it said. */
  arguments_sha256: z.string(),
  decision: z.enum(['approved', 'denied', 'expired']),
  decided_by: auditDeciderSchema,
  /** The `ask` rule that made a person decide, when one did. */
  asked_by: decidedBySchema.optional(),
  /** Why a call was denied: the person's reason, the refusing rule or list, `approval expired`, `stopped by user`… */
  reason: z.string().optional(),
  /** How the call ended: `executed` or `failed` (it ran), `not_run` (approved, never started), `denied`, `expired`. */
  outcome: z.enum(['executed', 'failed', 'not_run', 'denied', 'expired']),
  /** How long the tool ran (milliseconds), when this process saw it start and end. */
  duration_ms: z.number().int().nonnegative().optional(),
  /** When the decision was made (ISO 8601). */
  decided_at: z.string(),
  /** When the call ended and this entry was written (ISO 8601). */
  recorded_at: z.string(),
});

export type AuditEntry = z.infer<typeof auditEntrySchema>;

/** The audit entries a session keeps (its newest); the --audit-log file keeps every one. */
export const maxAuditEntriesPerSession = 100;
