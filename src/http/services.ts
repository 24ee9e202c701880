import type { RouteConfig } from '@hono/zod-openapi';
import type { AppConfig } from '../app-config.js';
import type { ApprovalInbox } from '../approvals/approval-inbox.js';
import type { AuditTrail } from '../approvals/audit-trail.js';
import type { Conversations } from '../chat/conversations.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { ToolProvider } from '../tools/tool-provider.js';
import type { SessionScope } from './session-gate.js';
import type { TurnOutput } from './turn-output.js';

/** What the routes use. */
export interface Services {
  config: AppConfig;
  conversations: Conversations;
  tools: ToolProvider;
  logger: Logger;
  clock: Clock;
  version: string;
  /** Turn feeds as SSE or JSON responses. */
  output: TurnOutput;
  /** Every session's pending approvals, listed and followed; absent where the store cannot be read across sessions. */
  inbox?: ApprovalInbox;
  auditTrail: AuditTrail;
  /** Marks a route as one of a session's (see `sessionRoute`). */
  sessionRoute<R extends RouteConfig>(route: R, scope: SessionScope): R;
}
