import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { SessionRecord } from '../../sessions/session-record.js';
import { clientAddress } from '../client-address.js';
import { errorResponses, jsonBody, jsonContent } from '../openapi.js';
import { sessionStateQuerySchema, sessionStateSchema, startSessionBodySchema } from '../schemas.js';
import type { Services } from '../services.js';
import { requestedSessionId } from '../session-id.js';
import { checkSessionLimits } from '../session-limits.js';
import { type MessagePageRequest, sessionState } from '../session-state.js';

const startSession = createRoute({
  method: 'post',
  path: '/start_session',
  summary: 'Start a session; it becomes the default session',
  request: jsonBody(startSessionBodySchema),
  responses: {
    201: { description: 'The new session', content: jsonContent(sessionStateSchema) },
    ...errorResponses(400, 403, 413, 415, 429, 503),
  },
});

const getSessionState = createRoute({
  method: 'get',
  path: '/session_state',
  summary: "A session's settings, history (newest 1,000 messages, or a page), pending approvals and tools",
  request: { query: sessionStateQuerySchema },
  responses: {
    200: { description: 'The session', content: jsonContent(sessionStateSchema) },
    ...errorResponses(400, 404),
  },
});

export function sessionRoutes(app: OpenAPIHono, { conversations, tools, config, sessionRoute }: Services) {
  const view = async (record: SessionRecord, running: boolean, page?: MessagePageRequest) =>
    sessionState(record, {
      running,
      page,
      tools: await tools.list(record.current_directory),
      autoApproveReadOnly: config.autoApproveReadOnly,
    });

  app.openapi(sessionRoute(startSession, 'new'), async (c) => {
    const settings = c.req.valid('json');
    checkSessionLimits(settings, config);
    const record = await conversations.startSession(settings, clientAddress(c));
    return c.json(await view(record, false), 201);
  });

  app.openapi(sessionRoute(getSessionState, 'existing'), async (c) => {
    const { record, running } = await conversations.inspect(requestedSessionId(c));
    const { limit, before } = c.req.valid('query');
    return c.json(await view(record, running, { limit, before }), 200);
  });
}
