import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { Services } from '../../app.js';
import { collectTurn, runTurn } from '../../chat/run-turn.js';
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
    const session = await services.sessions.resolve(requestedSessionId(c, body.session_id));
    const controller = services.turns.begin(session.id);
    try {
      const events = runTurn(body.input, {
        session,
        requestId: services.newRequestId(),
        model: services.models(session.provider),
        persist: services.sessions.save,
        signal: controller.signal,
      });
      return c.json(await collectTurn(events), 200);
    } finally {
      services.turns.end(session.id, controller);
    }
  });
}
