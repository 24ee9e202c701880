import { constants, type FileHandle, open } from 'node:fs/promises';
import type { AuditSink } from '../approvals/audit-sink.js';
import type { Logger } from '../logger.js';

/** The --audit-log file cannot be opened; the message is one line naming the file and the cause. */
export class AuditLogOpenError extends Error {}

export interface AuditLogFile {
  /** The sink writing to the file, logging its failures (at most one line a minute) to `logger`. */
  sink(logger: Pick<Logger, 'warn'>): AuditSink;
  /** Waits for every entry taken so far to be written, then closes the file. */
  close(): Promise<void>;
}

/** Failures are logged at most this often. */
const logInterval = 60_000;

/**
 * Opens (or creates) `path` for appending audit entries as JSON lines, readable by its owner
 * alone: created with mode 0600, and an existing file is set to 0600. Entries are written in the
 * order they are taken, one `write` per save's entries, so lines never interleave.
 */
export async function openAuditLogFile(path: string): Promise<AuditLogFile> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o600);
    await handle.chmod(0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new AuditLogOpenError(`--audit-log: cannot open "${path}" for appending (${code}).`);
  }
  let writing: Promise<void> = Promise.resolve();
  let lastLogged = Number.NEGATIVE_INFINITY;
  let unlogged = 0;
  return {
    sink(logger) {
      return {
        append(entries) {
          const text = entries.map((entry) => `${JSON.stringify(entry)}\n`).join('');
          writing = writing
            .then(async () => {
              await handle.write(text);
            })
            .catch((error: NodeJS.ErrnoException) => {
              const now = Date.now();
              if (now - lastLogged < logInterval) {
                unlogged += entries.length;
                return;
              }
              logger.warn(`audit log: writing to ${path} failed (${error.code ?? error.name}); entries are lost`, {
                entries: entries.length + unlogged,
              });
              lastLogged = now;
              unlogged = 0;
            });
        },
      };
    },
    async close() {
      await writing;
      await handle.close();
    },
  };
}
