import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Services } from '../../app.js';
import type { TurnResponse } from '../../chat/turn-events.js';
import { errorBody } from '../../errors.js';
import { errorResponses, jsonContent } from '../openapi.js';
import { sessionIdField, turnResponseSchema } from '../schemas.js';
import { requestedSessionId } from '../session-id.js';
import { collectRun, runAsStream, wantsStream } from '../turn-output.js';
import { sseContent } from './user-request.js';

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

const approveBodySchema = z.union([
  decisionSchema.extend(delivery),
  z.object({ decisions: z.array(decisionSchema).min(1).max(100), ...delivery }),
]);

const acceptedSchema = z.object({
  request_id: z.string(),
  status: z.enum(['approved', 'denied']),
  delivered: z.enum(['stream', 'deferred']).describe('where the continuation goes'),
});

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
      description: 'The next undecided call, or the continued turn (JSON, or SSE when streaming)',
      content: { ...jsonContent(approveResponseSchema), ...sseContent },
    },
    202: {
      description: 'Decided; the continuation goes to a waiting stream, or is deferred',
      content: jsonContent(acceptedSchema),
    },
    ...errorResponses(400, 404, 409, 410, 413, 415, 502, 503, 504),
  },
});

export function approveRoutes(app: OpenAPIHono, services: Services) {
  const { channels, turnService } = services;
  app.openapi(route, async (c) => {
    const body = c.req.valid('json');
    const decisions = 'decisions' in body ? body.decisions : [body];
    const { id } = await services.sessions.resolve(requestedSessionId(c, body.session_id));
    // A stream waiting on this step takes the continuation, deferred or not.
    const defer = body.defer === true && !channels.hasWaitingStream(id);
    const outcome = await turnService.decide(id, decisions, { defer });
    const rejected = outcome.rejected.map(({ request_id, error }) => ({ request_id, ...errorBody(error) }));
    const withRejected = (response: TurnResponse) => (rejected.length ? { ...response, rejected } : response);
    if (outcome.kind === 'waiting') return c.json(withRejected(outcome.response), 200);
    const applied = decisions.find(
      (decision) => !outcome.rejected.some((entry) => entry.request_id === decision.request_id),
    );
    const accepted = (delivered: 'stream' | 'deferred') =>
      c.json(
        {
          request_id: applied?.request_id ?? '',
          status: applied?.approve ? ('approved' as const) : ('denied' as const),
          delivered,
        },
        202,
      );
    if (outcome.kind === 'deferred') return accepted('deferred');
    const { run } = outcome;
    if (channels.hasWaitingStream(run.sessionId)) {
      channels.run(run);
      return accepted('stream');
    }
    if (wantsStream(c, body.stream, run.stream)) {
      return runAsStream(channels, run);
    }
    return c.json(withRejected(await collectRun(channels, run, c.req.raw.signal)), 200);
  });
}
