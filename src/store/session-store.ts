import type { SessionRecord } from '../sessions/session-record.js';

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
   * Saves the record under `record.id`, replacing any earlier one, and (re)starts its idle expiry:
   * after `ttlMilliseconds` without another `put` it is gone. A driver never drops a record before
   * its expiry to make room. A driver that holds at most so many sessions refuses a record it does
   * not hold yet when full, with AppError `too_many_sessions` whose `details.retry_after_seconds`
   * says when one may have expired; saving a record it holds never fails for room.
   */
  put(record: SessionRecord, options: { ttlMilliseconds: number }): Promise<void>;
  /** Removes the record; removing a missing one is not an error. */
  delete(id: string): Promise<void>;
  /** The id of the default session (the most recently started), if one was set. */
  getDefaultSessionId(): Promise<string | undefined>;
  /** Makes `id` the default session for requests that name none. */
  setDefaultSessionId(id: string): Promise<void>;
}
