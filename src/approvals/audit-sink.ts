import type { AuditEntry } from './audit-entry.js';

/**
 * Somewhere outside the session store that keeps every audit entry (the --audit-log file on Node
 * and Bun). Told of each save's entries, in order, once the save succeeded.
 */
export interface AuditSink {
  /** Takes the entries; returns at once and never throws (writing and its failures happen beside the turn). */
  append(entries: readonly AuditEntry[]): void;
}
