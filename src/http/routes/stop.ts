import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Services } from '../../app.js';
import { errorResponses, jsonContent } from '../openapi.js';
import { sessionIdField } from '../schemas.js';
import { requestedSessionId } from '../session-id.js';

const route = createRoute({
  method: 'post',
  path: '/stop',
  summary: "Stop the session's turn: the LLM request is aborted, running tools cancelled, pending calls denied",
  request: { body: { content: jsonContent(z.object({ session_id: sessionIdField })), required: true } },
  responses: {
    200: { description: 'Stopped', content: jsonContent(z.object({ stopped: z.literal(true) })) },
    ...errorResponses(400, 404, 409, 415),
  },
});

export function stopRoutes(app: OpenAPIHono, services: Services) {
  app.openapi(route, async (c) => {
    const stopped = await services.turnService.stop(requestedSessionId(c, c.req.valid('json').session_id));
    if (stopped.done) services.channels.finish(stopped.sessionId, stopped.done);
    return c.json({ stopped: true as const }, 200);
  });
}
