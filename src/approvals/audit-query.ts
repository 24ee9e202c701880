import type { AuditEntry } from './audit-entry.js';

/** Which audit entries `GET /audit` returns. */
export interface AuditQuery {
  sessionId?: string;
  /** The tool's name as offered to the model. */
  tool?: string;
  /** Decided at or after this time (epoch milliseconds). */
  since?: number;
  /** Decided before this time (epoch milliseconds). */
  until?: number;
  /** The most entries of one page. */
  limit: number;
  /** The `next_before` of the previous page: only entries after it (older). */
  before?: string;
}

/** The most entries one page holds. */
export const maxAuditPage = 1000;

/** Where an entry stands, newest first: decision time, then session and call id, as one comparable cursor. */
const cursorOf = (entry: AuditEntry) => `${entry.decided_at}/${entry.session_id}/${entry.request_id}`;

/** Compares cursors by time (as numbers), then session id, then request id; newest first. */
function compareCursors(a: string, b: string): number {
  const [timeA, sessionA, ...requestA] = a.split('/');
  const [timeB, sessionB, ...requestB] = b.split('/');
  return (
    Date.parse(timeB) - Date.parse(timeA) ||
    (sessionB ?? '').localeCompare(sessionA ?? '') ||
    requestB.join('/').localeCompare(requestA.join('/'))
  );
}

/** A well-formed cursor: an ISO time, a session id, a request id. */
export const auditCursorPattern = /^\d{4}-\d\d-\d\dT[\d:.]+Z\/[A-Za-z0-9_-]{1,128}\/.{1,200}$/;

/**
 * One page of `entries` matching `query`, newest decision first, and the cursor of the next page
 * (null when this one is the last).
 */
export function queryAudit(entries: readonly AuditEntry[], query: AuditQuery) {
  const matching = entries
    .filter((entry) => {
      const time = Date.parse(entry.decided_at);
      if (query.sessionId !== undefined && entry.session_id !== query.sessionId) return false;
      if (query.tool !== undefined && entry.tool !== query.tool) return false;
      if (query.since !== undefined && time < query.since) return false;
      if (query.until !== undefined && time >= query.until) return false;
      return query.before === undefined || compareCursors(query.before, cursorOf(entry)) < 0;
    })
    .sort((a, b) => compareCursors(cursorOf(a), cursorOf(b)));
  const page = matching.slice(0, query.limit);
  const last = page.at(-1);
  return { entries: page, next_before: matching.length > page.length && last ? cursorOf(last) : null };
}
