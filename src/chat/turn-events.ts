import { z } from 'zod';
import { decidedBySchema } from '../approvals/argument-rules.js';
import { grantOptionSchema } from '../approvals/grants.js';
import { errorCodes } from '../errors.js';
import { usageSchema } from '../llm/chat-model.js';

export const toolSchema = z.object({
  name: z.string(),
  arguments: z.record(z.string(), z.unknown()),
  server: z.string(),
});

const decidedBy = decidedBySchema.describe(
  'what decided the call without asking (a rule of servers.json, a list, a grant, a read-only hint), or the "ask" rule that made it ask; absent when nothing did and a human was asked',
);

/** The choices of `remember` for a pending call, each with what it would approve besides the call. */
export const grantOptionsSchema = z
  .array(grantOptionSchema)
  .describe('each choice of "remember" in POST /approve, and what it would approve besides this call');

const originalArguments = z
  .record(z.string(), z.unknown())
  .describe("the model's arguments, only when the approver edited them (`arguments` are then the edited ones)");

export const toolCallRecordSchema = toolSchema.extend({
  request_id: z.string(),
  status: z
    .enum(['executed', 'denied', 'pending', 'not_run'])
    .describe(
      'executed: it ran (is_error when it failed); not_run: it never ran (unknown tool, invalid arguments, too many rounds, stopped before it started)',
    ),
  result: z.string().optional(),
  is_error: z.boolean().optional(),
  decided_by: decidedBy.optional(),
  original_arguments: originalArguments.optional(),
});

/** The JSON response of `/user_request` and `/approve`, and the data of the SSE `done` event. */
export const turnResponseSchema = z.object({
  request_id: z.string().describe('id of this turn, or of the tool call awaiting approval'),
  requires_approval: z.boolean(),
  tool: toolSchema.nullable().describe('the tool call awaiting approval, or null'),
  message: z.string().describe('assistant text of this step (the final answer when requires_approval is false)'),
  model: z.string(),
  role: z.literal('assistant'),
  session_id: z.string(),
  tool_calls: z.array(toolCallRecordSchema).describe('tool calls of this turn so far'),
  usage: usageSchema.describe('tokens used by this turn'),
  stopped: z.boolean().optional().describe('present and true when POST /stop ended the turn'),
});

export const errorDataSchema = z.object({
  error: z.object({ code: z.enum(errorCodes), message: z.string(), details: z.unknown().optional() }),
});

/**
 * Everything a turn emits, in order: `session` first; then `token`s, tool events; then exactly one
 * `done` or `error`. One union serves the SSE writer (event name = `event`, data = `data`), the JSON
 * response (the `done` data) and the docs.
 */
export const turnEventSchema = z.discriminatedUnion('event', [
  z.object({ event: z.literal('session'), data: z.object({ session_id: z.string(), request_id: z.string() }) }),
  /** One assistant text delta. */
  z.object({ event: z.literal('token'), data: z.object({ content: z.string() }) }),
  /** A tool call needs a human's decision through POST /approve. */
  z.object({
    event: z.literal('approval_required'),
    data: z.object({
      request_id: z.string(),
      tool: toolSchema,
      message: z.string(),
      decided_by: decidedBy.optional(),
      grants: grantOptionsSchema.optional(),
    }),
  }),
  /** A tool starts running. */
  z.object({
    event: z.literal('tool_call'),
    data: z.object({
      request_id: z.string(),
      tool: toolSchema,
      approved_by: z.enum(['user', 'policy']),
      decided_by: decidedBy.optional(),
    }),
  }),
  /** The MCP server reported progress of a running tool. */
  z.object({
    event: z.literal('tool_progress'),
    data: z.object({
      request_id: z.string(),
      progress: z.number(),
      total: z.number().optional(),
      message: z.string().optional(),
    }),
  }),
  /** A tool finished, failed or was denied. */
  z.object({
    event: z.literal('tool_result'),
    data: z.object({
      request_id: z.string(),
      tool: z.object({ name: z.string(), server: z.string() }),
      content: z.string(),
      is_error: z.boolean(),
      status: z
        .enum(['executed', 'denied', 'not_run'])
        .describe(
          'executed: it ran (is_error when it failed); denied: it did not run, the model was told why; not_run: it never ran',
        ),
    }),
  }),
  /** The turn ended normally (or waits for approval); data is the JSON response. */
  z.object({ event: z.literal('done'), data: turnResponseSchema }),
  /** The turn failed; nothing follows. In JSON mode the code's HTTP status answers the request. */
  z.object({ event: z.literal('error'), data: errorDataSchema }),
]);

export type TurnEvent = z.infer<typeof turnEventSchema>;
export type Tool = z.infer<typeof toolSchema>;
export type TurnResponse = z.infer<typeof turnResponseSchema>;
export type ToolCallRecord = z.infer<typeof toolCallRecordSchema>;
