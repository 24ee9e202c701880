import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { rememberSchema } from '../../approvals/grants.js';
import { errorDataSchema } from '../../chat/turn-events.js';
import { AppError, errorBody } from '../../errors.js';
import { errorResponses, jsonBody, jsonContent, sseContent } from '../openapi.js';
import { sessionIdField, turnResponseSchema } from '../schemas.js';
import { deciderOf } from '../security.js';
import type { Services } from '../services.js';
import { requestedSessionId } from '../session-id.js';
import { oneOfShapesHook } from '../validation.js';

const decisionFields = z.object({
  request_id: z.string().min(1).max(200).describe('the tool call, as approval_required named it'),
  approve: z.boolean(),
  reason: z.string().max(4000).optional().describe('told to the model when denying'),
  remember: rememberSchema
    .optional()
    .describe(
      'what the approval also approves: "once" (or "call"), "session" (later calls of this tool), or {"for": "10m" | "session", "arguments"?: "same"}',
    ),
  arguments: z
    .record(z.string(), z.unknown())
    .optional()
    .describe(
      "only with approve: the arguments to run the call with instead of the model's (checked against the tool's input schema)",
    ),
});

/** Edited arguments are a way of approving: with a denial they would say nothing. */
const editOnlyWhenApproving = (decision: { approve: boolean; arguments?: unknown }, context: z.RefinementCtx) => {
  if (decision.arguments !== undefined && decision.approve !== true) {
    context.addIssue({ code: 'custom', path: ['arguments'], message: 'may only be sent with "approve": true' });
  }
};

const delivery = {
  session_id: sessionIdField,
  stream: z.boolean().optional().describe('carry the continuation as Server-Sent Events'),
  defer: z.boolean().optional().describe('answer 202 and run the continuation on the next GET /events'),
};

const singleBodySchema = decisionFields.extend(delivery).superRefine(editOnlyWhenApproving);
const batchBodySchema = z.object({
  decisions: z.array(decisionFields.superRefine(editOnlyWhenApproving)).min(1).max(100),
  ...delivery,
});

/** The 400 of an edited call's arguments, its fields named from the batch body (`decisions.1.arguments.path`). */
function inBatch(error: unknown, decisions: Array<{ request_id: string }>): unknown {
  if (!(error instanceof AppError) || error.code !== 'invalid_request' || !Array.isArray(error.details)) return error;
  const details = error.details.map((detail: { request_id: string; path: string; message: string }) => {
    const index = decisions.findIndex((decision) => decision.request_id === detail.request_id);
    return { ...detail, path: `decisions.${index}.${detail.path}` };
  });
  const summary = details.map((detail) => `${detail.path}: ${detail.message}`).join('; ');
  return new AppError('invalid_request', `Invalid request: ${summary}`, details);
}
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
      const outcome = await conversations
        .decide(requestedSessionId(c, body.session_id), decisions, {
          defer: body.defer === true,
          decider: deciderOf(c),
        })
        .catch((error) => {
          throw 'decisions' in body ? inBatch(error, body.decisions) : error;
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
