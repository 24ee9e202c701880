import { z } from '@hono/zod-openapi';
import { errorDataSchema, toolSchema, turnResponseSchema } from '../chat/turn-events.js';
import { chatMessageSchema, usageSchema } from '../llm/chat-model.js';
import { providerSchema } from '../llm/provider.js';
import { sessionSettingsSchema } from '../sessions/session-settings.js';

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
  messages: z.array(chatMessageSchema),
  pending_approvals: z.array(z.object({ request_id: z.string(), tool: toolSchema })),
  tools: z.array(
    z.object({ name: z.string(), server: z.string(), description: z.string(), requires_approval: z.boolean() }),
  ),
  usage: usageSchema,
  context: z.object({ window: z.number().int(), used_tokens: z.number().int() }),
  created_at: z.string(),
  updated_at: z.string(),
});

export const healthSchema = z.object({
  status: z.literal('ok'),
  version: z.string(),
  provider: z.string(),
  model: z.string(),
  mcp: z.record(z.string(), z.enum(['connected', 'connecting', 'failed', 'disabled'])),
});

export const errorResponseSchema = errorDataSchema;
export { turnResponseSchema };

export type SessionState = z.infer<typeof sessionStateSchema>;
