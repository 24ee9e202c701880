import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { Services } from '../../app.js';
import { collectTurn } from '../../chat/run-turn.js';
import { errorResponses, jsonContent } from '../openapi.js';
import { turnResponseSchema, userRequestBodySchema } from '../schemas.js';
import { requestedSessionId } from '../session-id.js';

export function userRequestRoutes(app: OpenAPIHono, services: Services) {
  const route = createRoute({
    method: 'post',
    path: '/user_request',
    summary: "Send the user's input; the model answers (JSON, or SSE when streaming)",
    request: { body: { content: jsonContent(userRequestBodySchema(services.config.maxInputChars)), required: true } },
    responses: {
      200: { description: 'The turn ended, or waits for a tool approval', content: jsonContent(turnResponseSchema) },
      ...errorResponses(400, 404, 409, 413, 415, 502, 503, 504),
    },
  });

  app.openapi(route, async (c) => {
    const body = c.req.valid('json');
    const events = await services.turnService.start(requestedSessionId(c, body.session_id), body.input);
    return c.json(await collectTurn(events), 200);
  });
}
