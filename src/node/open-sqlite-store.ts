import { closeSync, constants, mkdirSync, openSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import type Database from 'libsql';
import { AppError } from '../errors.js';
import type { SessionStore } from '../store/session-store.js';
import { sqliteCause } from '../store/sqlite-database.js';
import { createSqliteStore } from '../store/sqlite-store.js';

/** The data directory when none is named: `$XDG_DATA_HOME/llm-chat-server`, else `~/.local/share/llm-chat-server`. */
export function defaultDataDirectory(env: Record<string, string | undefined>, home = homedir()): string {
  const base = env.XDG_DATA_HOME && isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : join(home, '.local', 'share');
  return join(base, 'llm-chat-server');
}

export interface SqliteStoreFile {
  store: SessionStore;
  /** The database file. */
  path: string;
  /**
   * Copies the write-ahead log into the database file and closes the connection; the store must
   * not be used after. libsql keeps a connection (and so its lock) alive while statements
   * prepared on it live: the lock is sure to be released only when the process exits.
   */
  close(): void;
}

/** The database cannot be opened; the message is one line naming the file or directory and the cause. */
export class StoreOpenError extends Error {}

const errnoCauses: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'the file system is read-only',
  ENOSPC: 'the disk is full',
  ENOTDIR: 'a part of the path is a file, not a directory',
  EISDIR: 'it is a directory',
};

const errnoCause = (error: unknown) => {
  const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
  return `${errnoCauses[code] ?? 'it cannot be used'} (${code})`;
};

function prepareFiles(directory: string, path: string) {
  try {
    mkdirSync(directory, { recursive: true, mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new StoreOpenError(`cannot create the data directory ${directory}: ${errnoCause(error)}.`);
    }
  }
  if (!statSync(directory, { throwIfNoEntry: false })?.isDirectory()) {
    throw new StoreOpenError(`the data directory ${directory} is not a directory (--data-dir).`);
  }
  // Created here, not by SQLite, so that it is the user's alone from the start (SQLite gives its
  // journal files the database's mode).
  try {
    closeSync(openSync(path, constants.O_RDWR | constants.O_CREAT, 0o600));
  } catch (error) {
    throw new StoreOpenError(`cannot open the session database ${path}: ${errnoCause(error)}.`);
  }
}

/**
 * Opens (creating when missing) `sessions.db` in `directory` (created with mode 0700; the file
 * 0600) as the session store: write-ahead log, `synchronous=NORMAL`, and an exclusive lock held
 * until it is closed, so a second server on the same directory fails here. The core relies on
 * that: a turn marked running by another process id was cut off by a restart.
 * Rejects with `StoreOpenError` when it cannot.
 */
export async function openSqliteStore(options: {
  directory: string;
  maxSessions?: number;
  now?: () => number;
}): Promise<SqliteStoreFile> {
  const directory = resolve(options.directory);
  const path = join(directory, 'sessions.db');
  // Loaded only here, so that --store memory runs where libsql has no prebuilt binary.
  let driver: typeof Database;
  try {
    driver = (await import('libsql')).default;
  } catch (error) {
    throw new StoreOpenError(
      `cannot load the SQLite driver (libsql) for this platform: ${(error as Error).message.split('\n')[0]}; start with --store memory.`,
    );
  }
  prepareFiles(directory, path);
  let database: Database.Database;
  try {
    database = new driver(path);
  } catch (error) {
    throw new StoreOpenError(`cannot open the session database ${path}: ${(error as Error).message}.`);
  }
  try {
    // The lock is taken by the first statement that touches the file, with no wait: another
    // process holding it answers SQLITE_BUSY at once.
    database.exec('PRAGMA locking_mode = EXCLUSIVE');
    database.exec('PRAGMA journal_mode = WAL');
    database.exec('PRAGMA synchronous = NORMAL');
    const store = createSqliteStore({ database, maxSessions: options.maxSessions, now: options.now });
    database.exec('PRAGMA busy_timeout = 5000');
    const close = () => {
      database.exec('PRAGMA wal_checkpoint(TRUNCATE)');
      database.close();
    };
    return { store, path, close };
  } catch (error) {
    database.close();
    throw new StoreOpenError(`cannot open the session database ${path}: ${openFailure(error)}.`);
  }
}

function openFailure(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
    return `the data directory is in use by another llm-chat-server process (${code})`;
  }
  if (error instanceof AppError) return error.message;
  return sqliteCause(error) ?? (error as Error).message;
}
