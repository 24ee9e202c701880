import { z } from 'zod';
import type { DecidedCall } from './approval-tracking.js';
import { decidedBySchema } from './argument-rules.js';
import { auditDeciderSchema } from './audit-entry.js';
import type { PendingCall } from './pending-call.js';

/** A call waiting for a decision, as `GET /approvals` and the inbox stream show it. */
export const inboxItemSchema = z.object({
  request_id: z.string().describe('what POST /approve names, with session_id'),
  session_id: z.string(),
  tool: z.object({ name: z.string(), server: z.string() }),
  arguments: z.record(z.string(), z.unknown()).describe('exactly the arguments the call would run with'),
  created_at: z.string().nullable().describe('when the call started to wait (ISO 8601; null if not known)'),
  expires_at: z.string().describe('when its approval expires unless decided (ISO 8601)'),
  decided_by: decidedBySchema.optional().describe('the "ask" rule that made it wait, if one did'),
});

/** A call that waited and no longer does, as the inbox stream tells it. */
export const inboxDecisionSchema = z.object({
  request_id: z.string(),
  session_id: z.string(),
  tool: z.object({ name: z.string(), server: z.string() }),
  status: z.enum(['approved', 'denied', 'expired']),
  decided_by: auditDeciderSchema.describe(
    'user or approver (a person, by token), expiry, or turn_end (a stop, a new request, a failure or a restart)',
  ),
  decided_at: z.string().describe('ISO 8601'),
  reason: z.string().optional(),
});

/** The events of `GET /approvals/events`. */
export const inboxEventSchema = z.discriminatedUnion('event', [
  z.object({ event: z.literal('snapshot'), data: z.object({ approvals: z.array(inboxItemSchema) }) }),
  z.object({ event: z.literal('approval_requested'), data: inboxItemSchema }),
  z.object({ event: z.literal('approval_decided'), data: inboxDecisionSchema }),
]);

export type InboxItem = z.infer<typeof inboxItemSchema>;
export type InboxEvent = z.infer<typeof inboxEventSchema>;

const iso = (time: number) => new Date(time).toISOString();

export function inboxItem(call: PendingCall): InboxItem {
  return {
    request_id: call.request_id,
    session_id: call.session_id,
    tool: call.tool,
    arguments: call.arguments,
    created_at: call.created_at === undefined ? null : iso(call.created_at),
    expires_at: iso(call.expires_at),
    ...(call.decided_by ? { decided_by: call.decided_by } : {}),
  };
}

export function inboxDecision(call: DecidedCall): z.infer<typeof inboxDecisionSchema> {
  return { ...call, decided_at: iso(call.decided_at) };
}
