import { AppError } from '../errors.js';
import type { SessionStore } from '../store/session-store.js';
import { type AuditQuery, queryAudit } from './audit-query.js';

/**
 * The audit trail as `GET /audit` reads it: one session's entries from its record, or every live
 * session's from the store's index (501 `not_implemented` where the store has none: Workers KV).
 */
export function createAuditTrail(store: SessionStore) {
  return {
    async list(query: AuditQuery) {
      if (query.sessionId !== undefined) {
        const record = await store.get(query.sessionId);
        if (!record) {
          throw new AppError('unknown_session', `Session ${query.sessionId} does not exist or has expired.`);
        }
        return queryAudit(record.audit ?? [], query);
      }
      if (!store.approvals) {
        throw new AppError(
          'not_implemented',
          "This server's session store cannot be read across sessions (Workers KV): name a session with session_id.",
        );
      }
      return queryAudit(await store.approvals.audit(), query);
    },
  };
}

export type AuditTrail = ReturnType<typeof createAuditTrail>;
