import { AppError } from '../errors.js';

/** A prepared statement: better-sqlite3's synchronous API, which `libsql` implements on Node and Bun. */
export interface SqliteStatement {
  run(...parameters: unknown[]): { changes: number };
  /** The first row as an object keyed by column name, or undefined. */
  get(...parameters: unknown[]): unknown;
  all(...parameters: unknown[]): unknown[];
}

/**
 * The part of an open SQLite connection the store uses. A failing call throws an error whose
 * `code` is SQLite's result code as text (`SQLITE_FULL`, `SQLITE_IOERR_WRITE`…).
 */
export interface SqliteDatabase {
  prepare(sql: string): SqliteStatement;
  exec(sql: string): unknown;
  /** Whether a transaction is open: SQLite rolls one back by itself on some errors (SQLITE_FULL). */
  readonly inTransaction: boolean;
}

const causes: Record<string, string> = {
  SQLITE_FULL: 'the disk or the database is full',
  SQLITE_READONLY: 'the database is read-only',
  SQLITE_IOERR: 'a disk I/O error',
  SQLITE_BUSY: 'the database is locked by another connection',
  SQLITE_LOCKED: 'the database is locked',
  SQLITE_CORRUPT: 'the database file is corrupt',
  SQLITE_NOTADB: 'the file is not a SQLite database',
  SQLITE_CANTOPEN: 'the database file cannot be opened',
  SQLITE_PERM: 'permission denied',
  SQLITE_AUTH: 'permission denied',
};

/**
 * What went wrong, in words and SQLite's code (`the disk or the database is full (SQLITE_FULL)`),
 * for an error SQLite raised; undefined for any other. SQLite's codes name causes, never data.
 */
export function sqliteCause(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return undefined;
  const primary = code.split('_').slice(0, 2).join('_');
  return `${causes[primary] ?? 'a database error'} (${code})`;
}

/** A SQLite error as AppError `store_unavailable` (503) saying what could not be done and why; others as they are. */
export function storeFailure(error: unknown, action: string): unknown {
  const cause = sqliteCause(error);
  if (cause === undefined) return error;
  return new AppError('store_unavailable', `The session store could not ${action}: ${cause}. Try again later.`);
}
