import { AppError } from '../errors.js';
import type { DirectoryGuard } from './directory-guard.js';

/** Resolves `.` and `..` in a POSIX path, lexically. */
function normalize(path: string): string {
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return `/${parts.join('/')}`;
}

/**
 * For runtimes without a filesystem (Workers): a session's directory is only a name given to MCP
 * servers as their root, so it is checked lexically against the allowed roots, and so are the
 * paths tool calls name (there are no symlinks to resolve here).
 */
export function createRootDirectoryGuard(options: { base: string; roots: string[] }): DirectoryGuard {
  const roots = options.roots.map(normalize);
  return {
    async resolve(requested) {
      const path = normalize(requested.startsWith('/') ? requested : `${options.base}/${requested}`);
      if (!roots.some((root) => path === root || path.startsWith(root === '/' ? '/' : `${root}/`))) {
        throw new AppError(
          'directory_not_allowed',
          `current_directory "${requested}" is outside the allowed roots; the server allows CURRENT_DIRECTORY and each ALLOW_DIRECTORY.`,
        );
      }
      return path;
    },

    async locate(directory, path) {
      const home = normalize(directory);
      const located = normalize(path.startsWith('/') ? path : `${home}/${path}`);
      if (located === home) return { inside: true, path: '.' };
      const prefix = home === '/' ? '/' : `${home}/`;
      return located.startsWith(prefix)
        ? { inside: true, path: located.slice(prefix.length) }
        : { inside: false, path: located };
    },
  };
}
