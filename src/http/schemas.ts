import { z } from '@hono/zod-openapi';
import { decidedBySchema } from '../approvals/argument-rules.js';
import { errorDataSchema, grantOptionsSchema, toolSchema, turnResponseSchema } from '../chat/turn-events.js';
import { chatMessageSchema, usageSchema } from '../llm/chat-model.js';
import { providerSchema } from '../llm/provider.js';
import { sessionSettingsSchema } from '../sessions/session-settings.js';
import { serverStatuses } from '../tools/tool-provider.js';

export const sessionIdField = z
  .string()
  .optional()
  .describe('the session to use; without it, the default session (see API.md)');

export const startSessionBodySchema = sessionSettingsSchema;

export function userRequestBodySchema(maxInputChars: number) {
  return z.object({
    input: z
      .string()
      .min(1, 'input must not be empty')
      .max(maxInputChars, `input is longer than ${maxInputChars} characters`),
    session_id: sessionIdField,
    stream: z.boolean().optional().describe('stream the answer as Server-Sent Events'),
  });
}

// An array when the query repeats it: the handler then answers 400 conflicting_session_id.
export const sessionQuerySchema = z.object({ session_id: z.union([z.string(), z.array(z.string())]).optional() });

/** The most messages one `GET /session_state` returns. */
export const maxMessagesPerPage = 1000;

/** A whole number from 0 given as decimal text, once. */
const queryCount = (minimum: number, maximum: number) =>
  z
    .string()
    .regex(/^\d{1,9}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().min(minimum, `must be at least ${minimum}`).max(maximum, `must be at most ${maximum}`))
    .optional();

export const sessionStateQuerySchema = sessionQuerySchema.extend({
  limit: queryCount(1, maxMessagesPerPage).describe(
    `the newest this many messages (before \`before\`); at most ${maxMessagesPerPage}, the default`,
  ),
  before: queryCount(0, Number.MAX_SAFE_INTEGER).describe(
    'only messages whose index is below this: `messages_page.next_before` of the previous page',
  ),
});

/** The query of the streaming GETs, which EventSource cannot send headers with. */
export const streamQuerySchema = sessionQuerySchema.extend({
  last_event_id: z.string().optional().describe('resume after this event id (as the Last-Event-ID header)'),
  access_token: z.string().optional().describe('the bearer token, for clients that cannot send headers'),
});

export const sessionStateSchema = z.object({
  session_id: z.string(),
  provider: providerSchema,
  model: z.string(),
  current_directory: z.string(),
  temperature: z.number(),
  context_window_size: z.number().int(),
  stream: z.boolean(),
  status: z.enum(['idle', 'running', 'awaiting_approval']),
  messages: z.array(chatMessageSchema).describe('a page of the history, oldest first: see `messages_page`'),
  messages_page: z
    .object({
      total: z.number().int().describe('messages the session has had, the system prompt and the dropped ones included'),
      dropped: z
        .number()
        .int()
        .describe('oldest history messages dropped under --max-history-chars; their indexes hold nothing'),
      first_index: z
        .number()
        .int()
        .nullable()
        .describe("index of `messages[0]` (the system prompt's is 0); an index never changes"),
      next_before: z
        .number()
        .int()
        .nullable()
        .describe('`before` for the next older page; null when no older message is held'),
      truncated: z.boolean().describe('whether held messages are left out of this page'),
    })
    .describe('where `messages` lies in the history; pass `limit` and `before` to page through it'),
  pending_approvals: z.array(
    z.object({
      request_id: z.string(),
      tool: toolSchema,
      decided_by: decidedBySchema.optional(),
      grants: grantOptionsSchema,
    }),
  ),
  tool_calls: z
    .array(
      z.object({
        request_id: z.string(),
        name: z.string(),
        server: z.string(),
        status: z.enum(['executed', 'denied', 'pending', 'not_run']),
        decided_by: decidedBySchema
          .optional()
          .describe(
            'what decided the call without asking (a rule of servers.json, a list, a grant, a read-only hint), or the "ask" rule that made it ask; absent when nothing did',
          ),
        arguments: z
          .record(z.string(), z.unknown())
          .optional()
          .describe('only when the approver edited the arguments: those the tool ran with'),
        original_arguments: z
          .record(z.string(), z.unknown())
          .optional()
          .describe("only when the approver edited the arguments: the model's"),
      }),
    )
    .describe("the calls of the latest 100 ended turns' calls and of the current turn, oldest first"),
  grants: z
    .array(decidedBySchema)
    .describe(
      'approvals of later calls in force (each as `decided_by` of a call it lets run names it); one ends at its expiry or when its tool changes its input schema or annotations',
    ),
  tools: z.array(
    z.object({
      name: z.string(),
      server: z.string(),
      description: z.string(),
      requires_approval: z.boolean().describe("a call waits for a human's POST /approve"),
      denied: z
        .boolean()
        .describe("the server's deny list (or a deny rule on the tool alone) refuses every call without asking"),
    }),
  ),
  usage: usageSchema,
  context: z.object({ window: z.number().int(), used_tokens: z.number().int() }),
  created_at: z.string(),
  updated_at: z.string(),
});

export const healthSchema = z.object({
  /** `degraded` while the default provider's LLM is unreachable; the server still answers. */
  status: z.enum(['ok', 'degraded']),
  version: z.string(),
  provider: providerSchema,
  model: z.string(),
  /** The last known state of the default provider's LLM, from a cached probe or the last model call. */
  upstream: z.enum(['reachable', 'unreachable', 'unknown']),
  mcp: z.record(z.string(), z.enum(serverStatuses)),
});

export const errorResponseSchema = errorDataSchema;
export { turnResponseSchema };

export type SessionState = z.infer<typeof sessionStateSchema>;
