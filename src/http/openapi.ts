import type { z } from '@hono/zod-openapi';
import { turnEventSchema } from '../chat/turn-events.js';
import { errorResponseSchema } from './schemas.js';

export const jsonContent = <T extends z.ZodType>(schema: T) => ({ 'application/json': { schema } });

/** A route's required JSON body. */
export const jsonBody = <T extends z.ZodType>(schema: T) => ({
  body: { content: jsonContent(schema), required: true },
});

const errorDescriptions: Record<number, string> = {
  400: 'Invalid request (details name the fields), invalid or conflicting session id',
  401: 'Missing or wrong bearer token',
  403: 'Directory, Host or Origin not allowed, or the chat token on an approver route (--approver-token)',
  404: 'Unknown session',
  409: 'A turn is running, approvals are pending, or the turn has its most followers',
  413: 'Body larger than --max-body-bytes',
  415: 'Body is not application/json',
  429: 'Too many sessions started from this address (--sessions-per-minute); see Retry-After',
  502: 'The LLM answered with an error',
  503: 'The LLM could not be reached, or the server holds --max-sessions sessions (see Retry-After)',
  501: 'The session store cannot be read across sessions (Workers KV)',
  504: 'The LLM sent nothing for --upstream-timeout',
};

/** OpenAPI entries for the error statuses a route can answer, all with the one error body. */
export function errorResponses<S extends number>(...statuses: S[]) {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      { description: errorDescriptions[status], content: jsonContent(errorResponseSchema) },
    ]),
  ) as Record<S, { description: string; content: ReturnType<typeof jsonContent<typeof errorResponseSchema>> }>;
}

/**
 * An event stream, documented with the one union of turn events: each SSE event's name is the
 * member's `event` and its `data` line is the member's `data`.
 */
export const sseContent = {
  'text/event-stream': {
    schema: turnEventSchema.describe(
      'Server-Sent Events, each "event: <event>", "id: <id>", "data: <JSON data>": session, token, approval_required, tool_call, tool_progress, tool_result, then exactly one done or error',
    ),
  },
};
