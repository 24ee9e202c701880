import { watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';

/** The non-empty lines of `file`; none when it does not exist yet. */
export const linesOf = async (file: string) =>
  (await readFile(file, 'utf8').catch(() => '')).split('\n').filter(Boolean);

/**
 * Resolves with the lines of `file` once one of them is `line`, woken by file-system events on the
 * file (it may not exist yet), not by polling. Fails after `timeout` ms with the lines it had.
 */
export function untilLine(file: string, line: string, timeout = 10_000): Promise<string[]> {
  return new Promise((resolve, reject) => {
    let lines: string[] = [];
    const check = async () => {
      lines = await linesOf(file);
      if (!lines.includes(line)) return;
      finish();
      resolve(lines);
    };
    // Watching starts before the first read, so a write between the two is not missed.
    const watcher = watch(dirname(file), (_event, name) => {
      if (name === basename(file)) void check();
    });
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`"${line}" not in ${file} within ${timeout} ms; it has: ${JSON.stringify(lines)}`));
    }, timeout);
    const finish = () => {
      watcher.close();
      clearTimeout(timer);
    };
    void check();
  });
}
