import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { type ApprovalInbox, maxListedApprovals } from '../../approvals/approval-inbox.js';
import { inboxEventSchema, inboxItemSchema } from '../../approvals/inbox-events.js';
import { AppError } from '../../errors.js';
import { inboxStream } from '../inbox-stream.js';
import { errorResponses, jsonContent } from '../openapi.js';
import type { Services } from '../services.js';

const countQuery = (maximum: number) =>
  z
    .string()
    .regex(/^\d{1,9}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().min(1, 'must be at least 1').max(maximum, `must be at most ${maximum}`))
    .optional();

const listRoute = createRoute({
  method: 'get',
  path: '/approvals',
  summary: 'Every session’s tool calls waiting for a decision, oldest first (the approver inbox)',
  request: {
    query: z.object({
      limit: countQuery(maxListedApprovals).describe(`the oldest this many (default and most: ${maxListedApprovals})`),
    }),
  },
  responses: {
    200: {
      description: 'The pending approvals',
      content: jsonContent(
        z.object({
          approvals: z.array(inboxItemSchema.extend({ age_seconds: z.number().describe('how long it has waited') })),
        }),
      ),
    },
    ...errorResponses(400, 401, 403, 501, 503),
  },
});

const eventsRoute = createRoute({
  method: 'get',
  path: '/approvals/events',
  summary:
    'The approver inbox as Server-Sent Events: a snapshot of the pending approvals (or the events missed after Last-Event-ID), then each call that starts to wait and each decision',
  request: {
    query: z.object({
      last_event_id: z.string().optional().describe('resume after this event id (as the Last-Event-ID header)'),
      access_token: z.string().optional().describe('the bearer token, for clients that cannot send headers'),
    }),
  },
  responses: {
    200: {
      description: 'snapshot, then approval_requested and approval_decided events',
      content: {
        'text/event-stream': {
          schema: inboxEventSchema.describe(
            'Server-Sent Events, each "event: <event>", "id: <id>", "data: <JSON data>"',
          ),
        },
      },
    },
    ...errorResponses(400, 401, 403, 409, 501, 503),
  },
});

function available(inbox: ApprovalInbox | undefined): ApprovalInbox {
  if (inbox) return inbox;
  throw new AppError(
    'not_implemented',
    "This server's session store cannot be read across sessions (Workers KV): follow each session, or use --approval-webhook.",
  );
}

export function approvalsRoutes(app: OpenAPIHono, { inbox, config, clock }: Services) {
  app.openapi(listRoute, async (c) => {
    const approvals = await available(inbox).list(c.req.valid('query').limit);
    const now = clock.now();
    const aged = approvals.map((item) => ({
      ...item,
      age_seconds: item.created_at === null ? 0 : Math.max(0, Math.round((now - Date.parse(item.created_at)) / 1000)),
    }));
    return c.json({ approvals: aged }, 200);
  });

  app.openapi(eventsRoute, async (c) => {
    const lastEventId = c.req.header('last-event-id') ?? c.req.valid('query').last_event_id;
    return inboxStream(available(inbox), lastEventId, config.maxStreamBufferBytes);
  });
}
