import { z } from 'zod';
import { decidedBySchema } from '../approvals/argument-rules.js';
import { auditEntrySchema } from '../approvals/audit-entry.js';
import { storedGrantsSchema } from '../approvals/grants.js';
import { chatMessageSchema, usageSchema } from '../llm/chat-model.js';
import { providerSchema } from '../llm/provider.js';

/** Where a tool call is in its life (see `toolCallStateSchema`). */
export const callStatusSchema = z.enum([
  'pending',
  'approved',
  'denied',
  'expired',
  'running',
  'executed',
  'failed',
  'not_run',
]);

export type CallStatus = z.infer<typeof callStatusSchema>;

/**
 * One tool call of a turn and where it is in its life:
 * pending → approved | denied | expired; approved → running → executed | failed.
 * A call that never ran is not_run: the model made it unrunnable (unknown tool, invalid arguments,
 * past --max-tool-rounds), its tool was gone when it was to run, or a stop came before it started.
 * failed is a call that ran and failed, or was stopped while running.
 */
export const toolCallStateSchema = z.object({
  /** Our id for the call: what `approval_required` names and `POST /approve` answers. */
  request_id: z.string(),
  /** The model's id for the call, echoed in the tool result message. */
  call_id: z.string(),
  /** The tool's name as offered to the model. */
  name: z.string(),
  /** The tool's server, fixed when the call is made ('' when the model named no tool). */
  server: z.string(),
  /**
   * The name the server knows the tool by, fixed when the call is made: with `server`, the tool
   * that is decided on and run. Absent in records saved before it existed.
   */
  server_tool_name: z.string().optional(),
  /**
   * The arguments the tool runs with: exactly those shown to the human, or those the human put in
   * their place when approving (`original_arguments` then holds the model's).
   */
  arguments: z.record(z.string(), z.unknown()),
  /** The model's arguments, present only when the approver edited them. */
  original_arguments: z.record(z.string(), z.unknown()).optional(),
  /**
   * The fingerprint of the tool's input schema and annotations when the call was made: a grant
   * made by approving the call covers later calls only while the tool keeps it. Absent in records
   * saved before grants had one.
   */
  tool_fingerprint: z.string().optional(),
  status: callStatusSchema,
  approved_by: z.enum(['user', 'policy']).optional(),
  /** What decided the call without a human (a rule, a list, a grant, a hint), or the `ask` rule that made it ask. */
  decided_by: decidedBySchema.optional(),
  reason: z.string().optional(),
  result: z.string().optional(),
  is_error: z.boolean().optional(),
  /** Epoch milliseconds after which a pending call counts as expired. */
  expires_at: z.number().optional(),
  /** When a pending call was first saved as pending (epoch milliseconds; the approver inbox's age). */
  created_at: z.number().optional(),
  /** When the call was first saved decided (epoch milliseconds; for the audit trail). */
  decided_at: z.number().optional(),
  /** The person who decided it: with the chat token (`user`) or the approver token (`approver`). */
  decider: z.enum(['user', 'approver']).optional(),
  /** Whether its result message is in the history (then the call is final). */
  closed: z.boolean(),
});

/** The turn in progress or waiting on approvals; null between turns. */
export const turnStateSchema = z.object({
  request_id: z.string(),
  /** The turn's number in its session: the first part of its SSE event ids. */
  sequence: z.number().int(),
  /** Model calls of this turn that asked for tools. */
  rounds: z.number().int(),
  usage: usageSchema,
  /** Every tool call of the turn; the open step's calls are those not yet `closed`. */
  tool_calls: z.array(toolCallStateSchema),
  /** Assistant text of the current step. */
  message: z.string(),
  /**
   * The process running the turn while it runs (unset while it waits on approvals): a turn found
   * with another process's id was cut off by a restart, and is recovered (`recoverInterrupted`).
   */
  runner: z.string().optional(),
});

/**
 * A session as the store keeps it. Validated whenever it is read back from a store, since a
 * store (KV, a file, a database) is a trust boundary too.
 */
export const sessionRecordSchema = z.object({
  id: z.string(),
  provider: providerSchema,
  model: z.string(),
  temperature: z.number(),
  context_window_size: z.number().int().positive(),
  stream: z.boolean(),
  current_directory: z.string(),
  system_prompt: z.string(),
  messages: z.array(chatMessageSchema),
  /** How many of the oldest messages were dropped to keep the history under --max-history-chars. */
  dropped_messages: z.number().int().nonnegative().optional(),
  usage: usageSchema,
  /** Prompt tokens of the latest model call: how full the context window is. */
  last_prompt_tokens: z.number(),
  turn: turnStateSchema.nullable(),
  /** How many turns the session has started. */
  turns_started: z.number().int(),
  /** The session's latest audit entries (`maxAuditEntriesPerSession`), oldest first; absent before the first. */
  audit: z.array(auditEntrySchema).optional(),
  /**
   * Outcomes of the calls of recent turns, so a late `/approve` is told `already_decided` and
   * `/session_state` shows how each was decided (`name`, `server`, `decided_by`: absent in records
   * saved before they existed).
   */
  recent_calls: z.array(
    z.object({
      request_id: z.string(),
      status: callStatusSchema,
      name: z.string().optional(),
      server: z.string().optional(),
      decided_by: decidedBySchema.optional(),
      /** Only for a call whose arguments the approver edited: what ran, and the model's. */
      arguments: z.record(z.string(), z.unknown()).optional(),
      original_arguments: z.record(z.string(), z.unknown()).optional(),
    }),
  ),
  /** Approvals of later calls (`remember`), oldest first: see `grantSchema`. */
  grants: storedGrantsSchema,
  created_at: z.string(),
  updated_at: z.string(),
  /** How many times the record was saved: what a compare-and-set save checks (absent: never saved). */
  revision: z.number().int().nonnegative().optional(),
});

export type ToolCallState = z.infer<typeof toolCallStateSchema>;
export type TurnState = z.infer<typeof turnStateSchema>;
export type SessionRecord = z.infer<typeof sessionRecordSchema>;

/** A record read back from outside the process, validated; throws when it is not a session. */
export function parseStoredRecord(value: unknown): SessionRecord {
  return sessionRecordSchema.parse(value);
}
