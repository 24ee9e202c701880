import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { errorDataSchema } from '../../chat/turn-events.js';
import { errorBody } from '../../errors.js';
import { errorResponses, jsonBody, jsonContent, sseContent } from '../openapi.js';
import { sessionIdField, turnResponseSchema } from '../schemas.js';
import { deciderOf } from '../security.js';
import type { Services } from '../services.js';
import { requestedSessionId } from '../session-id.js';
import { oneOfShapesHook } from '../validation.js';

const decisionSchema = z.object({
  request_id: z.string().min(1).max(200).describe('the tool call, as approval_required named it'),
  approve: z.boolean(),
  reason: z.string().max(4000).optional().describe('told to the model when denying'),
  remember: z.enum(['once', 'session']).optional().describe('"session": also approve later calls of this tool'),
});

const delivery = {
  session_id: sessionIdField,
  stream: z.boolean().optional().describe('carry the continuation as Server-Sent Events'),
  defer: z.boolean().optional().describe('answer 202 and run the continuation on the next GET /events'),
};

const singleBodySchema = decisionSchema.extend(delivery);
const batchBodySchema = z.object({ decisions: z.array(decisionSchema).min(1).max(100), ...delivery });
const approveBodySchema = z.union([singleBodySchema, batchBodySchema]);

/** A body with `decisions` is a batch; any other, one decision. */
const approveBodyShape = (body: unknown) =>
  typeof body === 'object' && body !== null && Object.hasOwn(body, 'decisions') ? batchBodySchema : singleBodySchema;

const rejectedSchema = z
  .array(errorDataSchema.extend({ request_id: z.string() }))
  .optional()
  .describe('decisions of a batch that did not apply, with why');

const acceptedSchema = z.object({
  request_id: z.string(),
  status: z.enum(['approved', 'denied']),
  delivered: z.enum(['stream', 'deferred']).describe('where the continuation goes'),
  rejected: rejectedSchema,
});

const approveResponseSchema = turnResponseSchema.extend({ rejected: rejectedSchema });

const route = createRoute({
  method: 'post',
  path: '/approve',
  summary: 'Approve or deny pending tool calls; the turn continues once every call of the step is decided',
  request: jsonBody(approveBodySchema),
  responses: {
    200: {
      description: 'The next undecided call, or the continued turn (JSON, or SSE when streaming)',
      content: { ...jsonContent(approveResponseSchema), ...sseContent },
    },
    202: {
      description: 'Decided; the continuation goes to a waiting stream, or is deferred',
      content: jsonContent(acceptedSchema),
    },
    ...errorResponses(400, 401, 403, 404, 409, 410, 413, 415, 502, 503, 504),
  },
});

export function approveRoutes(app: OpenAPIHono, { conversations, sessionRoute, output }: Services) {
  const checkShape = oneOfShapesHook(approveBodyShape);
  app.openapi(
    sessionRoute(route, 'existing'),
    async (c) => {
      const body = c.req.valid('json');
      const decisions = 'decisions' in body ? body.decisions : [body];
      const outcome = await conversations.decide(requestedSessionId(c, body.session_id), decisions, {
        defer: body.defer === true,
        decider: deciderOf(c),
      });
      const rejected = outcome.rejected.map(({ request_id, error }) => ({ request_id, ...errorBody(error) }));
      const extra = rejected.length ? { rejected } : {};
      switch (outcome.kind) {
        case 'waiting':
          return c.json({ ...outcome.response, ...extra }, 200);
        case 'accepted':
          return c.json(
            { request_id: outcome.request_id, status: outcome.status, delivered: outcome.delivered, ...extra },
            202,
          );
        case 'continued':
          return output.respond(c, outcome.feed, body.stream, extra);
      }
    },
    (result, c) => checkShape(result, c),
  );
}
