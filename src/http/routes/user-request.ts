import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { AppError } from '../../errors.js';
import { errorResponses, jsonBody, jsonContent, sseContent } from '../openapi.js';
import { streamQuerySchema, turnResponseSchema, userRequestBodySchema } from '../schemas.js';
import type { Services } from '../services.js';
import { requestedSessionId } from '../session-id.js';

export function userRequestRoutes(app: OpenAPIHono, { conversations, config, sessionRoute, output }: Services) {
  const post = createRoute({
    method: 'post',
    path: '/user_request',
    summary: "Send the user's input; the model answers (JSON, or SSE when streaming)",
    request: jsonBody(userRequestBodySchema(config.maxInputChars)),
    responses: {
      200: {
        description: 'The turn ended, or waits for a tool approval (JSON); or the turn as events (SSE)',
        content: { ...jsonContent(turnResponseSchema), ...sseContent },
      },
      ...errorResponses(400, 404, 409, 413, 415, 502, 503, 504),
    },
  });

  app.openapi(sessionRoute(post, 'existing'), async (c) => {
    const body = c.req.valid('json');
    const feed = await conversations.start(requestedSessionId(c, body.session_id), body.input);
    return output.respond(c, feed, body.stream);
  });

  const get = createRoute({
    method: 'get',
    path: '/user_request',
    summary: 'The same turn as an event stream, for EventSource; with Last-Event-ID it resumes that turn instead',
    request: {
      query: streamQuerySchema.extend({ input: z.string().max(config.maxInputChars).optional() }),
    },
    responses: {
      200: { description: 'The turn as events', content: sseContent },
      204: { description: 'Resuming a turn that is over with nothing left to send' },
      ...errorResponses(400, 401, 403, 404, 409),
    },
  });

  app.openapi(sessionRoute(get, 'existing'), async (c) => {
    const query = c.req.valid('query');
    const lastEventId = c.req.header('last-event-id') ?? query.last_event_id;
    const sessionId = requestedSessionId(c);
    if (lastEventId !== undefined) {
      return output.stream(c, await conversations.follow(sessionId, { lastEventId, continueDeferred: false }));
    }
    if (!query.input) {
      throw new AppError(
        'invalid_request',
        'input: a new turn needs a non-empty input (or Last-Event-ID to resume one).',
      );
    }
    return output.stream(c, await conversations.start(sessionId, query.input));
  });
}
