import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Services } from '../../app.js';
import { parseEventId } from '../../chat/turn-channels.js';
import { turnEventSchema } from '../../chat/turn-events.js';
import { AppError } from '../../errors.js';
import { errorResponses, jsonContent } from '../openapi.js';
import { turnResponseSchema, userRequestBodySchema } from '../schemas.js';
import { requestedSessionId } from '../session-id.js';
import { collectRun, eventStream, runAsStream, wantsStream } from '../turn-output.js';

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

export function userRequestRoutes(app: OpenAPIHono, services: Services) {
  const { channels, turnService } = services;

  const post = createRoute({
    method: 'post',
    path: '/user_request',
    summary: "Send the user's input; the model answers (JSON, or SSE when streaming)",
    request: { body: { content: jsonContent(userRequestBodySchema(services.config.maxInputChars)), required: true } },
    responses: {
      200: {
        description: 'The turn ended, or waits for a tool approval (JSON); or the turn as events (SSE)',
        content: { ...jsonContent(turnResponseSchema), ...sseContent },
      },
      ...errorResponses(400, 404, 409, 413, 415, 502, 503, 504),
    },
  });

  app.openapi(post, async (c) => {
    const body = c.req.valid('json');
    const run = await turnService.start(requestedSessionId(c, body.session_id), body.input);
    if (wantsStream(c, body.stream, run.stream)) {
      return runAsStream(channels, run);
    }
    return c.json(await collectRun(channels, run, c.req.raw.signal), 200);
  });

  const get = createRoute({
    method: 'get',
    path: '/user_request',
    summary: 'The same turn as an event stream, for EventSource; with Last-Event-ID it resumes that turn instead',
    request: {
      query: z.object({
        input: z.string().max(services.config.maxInputChars).optional(),
        session_id: z.union([z.string(), z.array(z.string())]).optional(),
        last_event_id: z.string().optional(),
        access_token: z.string().optional(),
      }),
    },
    responses: {
      200: { description: 'The turn as events', content: sseContent },
      204: { description: 'Resuming a turn that is over with nothing left to send' },
      ...errorResponses(400, 401, 403, 404, 409),
    },
  });

  app.openapi(get, async (c) => {
    const query = c.req.valid('query');
    const lastEventId = c.req.header('last-event-id') ?? query.last_event_id;
    const sessionId = (await services.sessions.resolve(requestedSessionId(c))).id;
    if (lastEventId !== undefined) {
      const after = parseEventId(lastEventId);
      return eventStream(channels, sessionId, (subscriber) =>
        after ? channels.attach(sessionId, subscriber, after) : 'nothing',
      );
    }
    if (!query.input) {
      throw new AppError(
        400,
        'invalid_request',
        'input: a new turn needs a non-empty input (or Last-Event-ID to resume one).',
      );
    }
    const run = await turnService.start(sessionId, query.input);
    return runAsStream(channels, run);
  });
}
