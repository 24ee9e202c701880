import { AppError } from '../errors.js';

/** Throws `session_conflict` unless the stored revision (0 when none) is the expected one. */
export function assertRevision(id: string, stored: number | undefined, expected: number) {
  if ((stored ?? 0) === expected) return;
  throw new AppError('session_conflict', `Session ${id} changed while this request was handled; try again.`, {
    revision: stored ?? 0,
  });
}
