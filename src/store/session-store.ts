import type { AuditEntry } from '../approvals/audit-entry.js';
import type { PendingCall } from '../approvals/pending-call.js';
import type { TurnEvent } from '../chat/turn-events.js';
import type { SessionRecord } from '../sessions/session-record.js';

/** How a record is saved. */
export interface PutOptions {
  /** Idle expiry: after this long without another `put` the record is gone. */
  ttlMilliseconds: number;
  /**
   * Compare-and-set: save only when the stored record's `revision` (0 when it has none) is this
   * one, else throw AppError `session_conflict` and change nothing. A record not stored (never
   * saved, expired, deleted) is saved whatever this says. Without it the save is unconditional.
   */
  ifRevision?: number;
}

/** One event of a turn's durable log: its index in the turn (the second part of its SSE id). */
export interface LoggedEvent {
  index: number;
  event: TurnEvent;
  /** The event's SSE frame, as sent (`eventFrame`): what a driver stores, so that nothing is encoded twice. */
  frame: string;
}

/**
 * The port to wherever sessions live. Drivers store and return records as they are given, and share
 * no mutable state with their callers; a message, once in a history, is never changed, so a driver
 * may share message objects. A driver that deserializes records (KV, a file, a database) validates
 * them with `parseStoredRecord`. Every driver must pass `test/store/session-store-contract.ts`.
 */
export interface SessionStore {
  /** The record saved under `id`, or undefined if there is none or it has expired. */
  get(id: string): Promise<SessionRecord | undefined>;
  /**
   * Saves the record under `record.id`, replacing any earlier one, and (re)starts its idle expiry.
   * A driver never drops a record before its expiry to make room. A driver that holds at most so
   * many sessions refuses a record it does not hold yet when full, with AppError
   * `too_many_sessions` whose `details.retry_after_seconds` says when one may have expired; saving a
   * record it holds never fails for room. With `ifRevision`, the check and the write are one atomic
   * step in drivers that say so (`atomicRevisions`); a save that fails changes nothing.
   */
  put(record: SessionRecord, options: PutOptions): Promise<void>;
  /** Removes the record (and its event log); removing a missing one is not an error. */
  delete(id: string): Promise<void>;
  /** The id of the default session (the most recently started), if one was set. */
  getDefaultSessionId(): Promise<string | undefined>;
  /** Makes `id` the default session for requests that name none. */
  setDefaultSessionId(id: string): Promise<void>;
  /** Whether `ifRevision` is checked and written atomically, across every process using the store. */
  readonly atomicRevisions: boolean;
  /**
   * The durable event log of a session's turns, for `Last-Event-ID` resume after a restart; absent
   * in drivers whose sessions die with the process anyway (memory). Only the latest turn's log is
   * kept: appending events of a newer turn drops the older one's.
   */
  readonly events?: TurnEventLog;
  /**
   * What the approver inbox and the audit trail ask across sessions, answered from what the latest
   * save of each live session left; absent in drivers that cannot query across sessions (KV).
   */
  readonly approvals?: ApprovalIndex;
}

/**
 * Queries across every live session of the store (every process's, for a shared store). A driver
 * keeps, with each save and in the same atomic step, what `approvalIndexTexts(record)` gives, and
 * drops it with the record (on delete and on expiry). Results come in no particular order.
 */
export interface ApprovalIndex {
  /** The calls waiting for a decision in the latest record of each live session (`pendingCallsOf`). */
  pending(): Promise<PendingCall[]>;
  /** The audit entries (`record.audit`) of each live session. */
  audit(): Promise<AuditEntry[]>;
}

/** Events of one session's turn, in index order, to be appended to its log. */
export interface LoggedBatch {
  sessionId: string;
  sequence: number;
  events: readonly LoggedEvent[];
}

export interface TurnEventLog {
  /** Adds events (in index order) to the log of turn `sequence` of the session. */
  append(sessionId: string, sequence: number, events: readonly LoggedEvent[]): Promise<void>;
  /**
   * Adds batches of several sessions at once, each as `append` would, in one write where the
   * driver can (a server writing the events of all its turns as they come); absent, the caller
   * appends them one by one.
   */
  appendMany?(batches: readonly LoggedBatch[]): Promise<void>;
  /** The logged events of turn `sequence` with an index above `after`, in order. */
  read(sessionId: string, sequence: number, after: number): Promise<LoggedEvent[]>;
}
