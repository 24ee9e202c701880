import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { auditEntrySchema } from '../../approvals/audit-entry.js';
import { auditCursorPattern, maxAuditPage } from '../../approvals/audit-query.js';
import { sessionIdPattern } from '../../sessions/session-id.js';
import { errorResponses, jsonContent } from '../openapi.js';
import type { Services } from '../services.js';

const time = z
  .string()
  .refine((value) => !Number.isNaN(Date.parse(value)), 'must be a time in ISO 8601, e.g. 2026-01-01T00:00:00Z')
  .transform((value) => Date.parse(value))
  .optional();

const querySchema = z.object({
  session_id: z
    .string()
    .regex(sessionIdPattern, 'must be 1 to 128 characters of A-Z, a-z, 0-9, "_" and "-"')
    .optional()
    .describe("only this session's entries (the only query a store without an index answers)"),
  tool: z.string().min(1).max(200).optional().describe('only calls of this tool (its name as offered to the model)'),
  since: time.describe('only decisions made at or after this time (ISO 8601)'),
  until: time.describe('only decisions made before this time (ISO 8601)'),
  limit: z
    .string()
    .regex(/^\d{1,9}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().min(1, 'must be at least 1').max(maxAuditPage, `must be at most ${maxAuditPage}`))
    .optional()
    .describe(`entries per page (default 100, at most ${maxAuditPage})`),
  before: z
    .string()
    .regex(auditCursorPattern, 'must be the next_before of a previous page')
    .optional()
    .describe('the next_before of the previous page'),
});

const route = createRoute({
  method: 'get',
  path: '/audit',
  summary: 'The audit trail: every decision on a tool call and how the call ended, newest first',
  request: { query: querySchema },
  responses: {
    200: {
      description: 'A page of audit entries',
      content: jsonContent(
        z.object({
          entries: z.array(auditEntrySchema),
          next_before: z.string().nullable().describe('pass as `before` for the next (older) page; null on the last'),
        }),
      ),
    },
    ...errorResponses(400, 401, 403, 404, 501, 503),
  },
});

export function auditRoutes(app: OpenAPIHono, { auditTrail }: Services) {
  app.openapi(route, async (c) => {
    const query = c.req.valid('query');
    const page = await auditTrail.list({
      sessionId: query.session_id,
      tool: query.tool,
      since: query.since,
      until: query.until,
      limit: query.limit ?? 100,
      before: query.before,
    });
    return c.json(page, 200);
  });
}
