import { z } from 'zod';
import type { SessionRecord } from '../sessions/session-record.js';
import { decidedBySchema } from './argument-rules.js';

/** A tool call waiting for a person's decision, as the approver inbox lists it and the stores index it. */
export const pendingCallSchema = z.object({
  session_id: z.string(),
  /** What `POST /approve` names (with `session_id`). */
  request_id: z.string(),
  /** The tool as the approval card names it, and its MCP server. */
  tool: z.object({ name: z.string(), server: z.string() }),
  /** Exactly the arguments the call would run with. */
  arguments: z.record(z.string(), z.unknown()),
  /** When the call started to wait (epoch milliseconds); absent in records saved before it was kept. */
  created_at: z.number().optional(),
  /** When its approval expires unless decided (epoch milliseconds). */
  expires_at: z.number(),
  /** The `ask` rule that made it wait, if one did. */
  decided_by: decidedBySchema.optional(),
});

export type PendingCall = z.infer<typeof pendingCallSchema>;

/** The calls of the session's open step that wait for a decision (whether or not their time is up). */
export function pendingCallsOf(record: SessionRecord): PendingCall[] {
  return (record.turn?.tool_calls ?? [])
    .filter((call) => call.status === 'pending' && !call.closed && call.expires_at !== undefined)
    .map((call) => ({
      session_id: record.id,
      request_id: call.request_id,
      tool: { name: call.name, server: call.server },
      arguments: call.arguments,
      ...(call.created_at === undefined ? {} : { created_at: call.created_at }),
      expires_at: call.expires_at as number,
      ...(call.decided_by ? { decided_by: call.decided_by } : {}),
    }));
}

/**
 * What a store keeps beside a record for the cross-session queries (`ApprovalIndex`): the JSON of
 * its pending calls and of its audit entries, each undefined when there are none.
 */
export function approvalIndexTexts(record: SessionRecord): { pending?: string; audit?: string } {
  const pending = pendingCallsOf(record);
  return {
    ...(pending.length > 0 ? { pending: JSON.stringify(pending) } : {}),
    ...(record.audit?.length ? { audit: JSON.stringify(record.audit) } : {}),
  };
}
