import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { jsonContent } from '../openapi.js';
import { healthSchema } from '../schemas.js';
import type { Services } from '../services.js';

const health = createRoute({
  method: 'get',
  path: '/health',
  summary: 'Liveness, version, default provider and model, MCP servers (no auth needed)',
  responses: { 200: { description: 'The server is up', content: jsonContent(healthSchema) } },
});

export function healthRoutes(app: OpenAPIHono, services: Services) {
  app.openapi(health, (c) =>
    c.json(
      {
        status: 'ok' as const,
        version: services.version,
        provider: services.config.provider,
        model: services.config.model,
        mcp: services.tools.status(),
      },
      200,
    ),
  );
}
