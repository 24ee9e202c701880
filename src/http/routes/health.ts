import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { UpstreamStatus } from '../../llm/upstream-status.js';
import { jsonContent } from '../openapi.js';
import { healthSchema } from '../schemas.js';
import type { Services } from '../services.js';

const health = createRoute({
  method: 'get',
  path: '/health',
  summary: 'Liveness, version, default provider and model, LLM reachability, MCP servers (no auth needed)',
  responses: {
    200: {
      description: 'The server is up (`degraded` while the LLM is unreachable)',
      content: jsonContent(healthSchema),
    },
  },
});

export function healthRoutes(app: OpenAPIHono, services: Services, upstream: UpstreamStatus) {
  app.openapi(health, (c) => {
    const state = upstream.current();
    return c.json(
      {
        status: state === 'unreachable' ? ('degraded' as const) : ('ok' as const),
        version: services.version,
        provider: services.config.provider,
        model: services.config.model,
        upstream: state,
        mcp: services.tools.status(),
      },
      200,
    );
  });
}
