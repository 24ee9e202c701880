import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Services } from '../../app.js';
import { parseEventId } from '../../chat/turn-channels.js';
import { errorResponses } from '../openapi.js';
import { requestedSessionId } from '../session-id.js';
import { eventStream, runAsStream } from '../turn-output.js';
import { sseContent } from './user-request.js';

const route = createRoute({
  method: 'get',
  path: '/events',
  summary:
    "The session's event stream for EventSource: replays what was missed (after Last-Event-ID), follows the running turn, starts a deferred continuation",
  request: {
    query: z.object({
      session_id: z.union([z.string(), z.array(z.string())]).optional(),
      last_event_id: z.string().optional(),
      access_token: z.string().optional(),
    }),
  },
  responses: {
    200: { description: 'The turn as events', content: sseContent },
    204: { description: 'Nothing running and nothing to replay' },
    ...errorResponses(400, 401, 403, 404),
  },
});

export function eventsRoutes(app: OpenAPIHono, services: Services) {
  const { channels, turnService } = services;
  app.openapi(route, async (c) => {
    const sessionId = (await services.sessions.resolve(requestedSessionId(c))).id;
    const lastEventId = c.req.header('last-event-id') ?? c.req.valid('query').last_event_id;
    const after = parseEventId(lastEventId);
    if (lastEventId === undefined || after === undefined) {
      const run = await turnService.resume(sessionId);
      if (run) {
        return runAsStream(channels, run);
      }
    }
    return eventStream(channels, sessionId, (subscriber) => channels.attach(sessionId, subscriber, after));
  });
}
