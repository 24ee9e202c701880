import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Services } from '../../app.js';
import { collectTurn } from '../../chat/run-turn.js';
import { errorBody } from '../../errors.js';
import { errorResponses, jsonContent } from '../openapi.js';
import { sessionIdField, turnResponseSchema } from '../schemas.js';
import { requestedSessionId } from '../session-id.js';

const decisionSchema = z.object({
  request_id: z.string().min(1).max(200).describe('the tool call, as approval_required named it'),
  approve: z.boolean(),
  reason: z.string().max(4000).optional().describe('told to the model when denying'),
  remember: z.enum(['once', 'session']).optional().describe('"session": also approve later calls of this tool'),
});

const approveBodySchema = z.union([
  decisionSchema.extend({ session_id: sessionIdField, stream: z.boolean().optional() }),
  z.object({
    decisions: z.array(decisionSchema).min(1).max(100),
    session_id: sessionIdField,
    stream: z.boolean().optional(),
  }),
]);

const approveResponseSchema = turnResponseSchema.extend({
  rejected: z
    .array(z.object({ request_id: z.string(), error: z.object({ code: z.string(), message: z.string() }) }))
    .optional()
    .describe('decisions of a batch that did not apply, with why'),
});

const route = createRoute({
  method: 'post',
  path: '/approve',
  summary: 'Approve or deny pending tool calls; the turn continues once every call of the step is decided',
  request: { body: { content: jsonContent(approveBodySchema), required: true } },
  responses: {
    200: {
      description: 'The next undecided call, or the continued turn',
      content: jsonContent(approveResponseSchema),
    },
    ...errorResponses(400, 404, 409, 410, 413, 415, 502, 503, 504),
  },
});

export function approveRoutes(app: OpenAPIHono, services: Services) {
  app.openapi(route, async (c) => {
    const body = c.req.valid('json');
    const decisions = 'decisions' in body ? body.decisions : [body];
    const outcome = await services.turnService.decide(requestedSessionId(c, body.session_id), decisions);
    const response = outcome.kind === 'waiting' ? outcome.response : await collectTurn(outcome.events);
    const rejected = outcome.rejected.map(({ request_id, error }) => ({ request_id, ...errorBody(error) }));
    return c.json(rejected.length ? { ...response, rejected } : response, 200);
  });
}
