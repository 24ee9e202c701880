import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { errorResponses, jsonBody, jsonContent } from '../openapi.js';
import { sessionIdField } from '../schemas.js';
import type { Services } from '../services.js';
import { requestedSessionId } from '../session-id.js';

const route = createRoute({
  method: 'post',
  path: '/stop',
  summary: "Stop the session's turn: the LLM request is aborted, running tools cancelled, pending calls denied",
  request: jsonBody(z.object({ session_id: sessionIdField })),
  responses: {
    200: { description: 'Stopped', content: jsonContent(z.object({ stopped: z.literal(true) })) },
    ...errorResponses(400, 404, 409, 415),
  },
});

export function stopRoutes(app: OpenAPIHono, { conversations, sessionRoute }: Services) {
  app.openapi(sessionRoute(route, 'existing'), async (c) => {
    await conversations.stop(requestedSessionId(c, c.req.valid('json').session_id));
    return c.json({ stopped: true as const }, 200);
  });
}
