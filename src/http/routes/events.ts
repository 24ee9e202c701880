import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { errorResponses, sseContent } from '../openapi.js';
import { streamQuerySchema } from '../schemas.js';
import type { Services } from '../services.js';
import { requestedSessionId } from '../session-id.js';

const route = createRoute({
  method: 'get',
  path: '/events',
  summary:
    "The session's event stream for EventSource: replays what was missed (after Last-Event-ID), follows the running turn, starts a deferred continuation",
  request: { query: streamQuerySchema },
  responses: {
    200: { description: 'The turn as events', content: sseContent },
    204: { description: 'Nothing running and nothing to replay' },
    ...errorResponses(400, 401, 403, 404, 409),
  },
});

export function eventsRoutes(app: OpenAPIHono, { conversations, sessionRoute, output }: Services) {
  app.openapi(sessionRoute(route, 'existing'), async (c) => {
    const lastEventId = c.req.header('last-event-id') ?? c.req.valid('query').last_event_id;
    return output.stream(c, await conversations.follow(requestedSessionId(c), { lastEventId, continueDeferred: true }));
  });
}
