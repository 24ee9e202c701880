import { realpath, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { AppError } from '../errors.js';
import type { DirectoryGuard } from '../sessions/directory-guard.js';

export interface NodeDirectoryGuardOptions {
  /** Relative paths resolve against this (the process's working directory). */
  base: string;
  /** Directories a session may lie in, themselves included. */
  roots: string[];
}

const inside = (path: string, root: string) => {
  const difference = relative(root, path);
  return difference === '' || (difference !== '..' && !difference.startsWith(`..${sep}`) && !isAbsolute(difference));
};

export function createNodeDirectoryGuard(options: NodeDirectoryGuardOptions): DirectoryGuard {
  const roots = Promise.all(
    options.roots.map((root) => realpath(resolve(options.base, root)).catch(() => resolve(options.base, root))),
  );
  return {
    async resolve(requested) {
      const absolute = resolve(options.base, requested);
      const allowed = await roots;
      let real: string;
      try {
        real = await realpath(absolute);
      } catch {
        if (!allowed.some((root) => inside(absolute, root))) throw notAllowed(requested);
        throw new AppError('invalid_request', `current_directory "${requested}" does not exist.`);
      }
      if (!allowed.some((root) => inside(real, root))) throw notAllowed(requested);
      if (!(await stat(real)).isDirectory()) {
        throw new AppError('invalid_request', `current_directory "${requested}" is not a directory.`);
      }
      return real;
    },
  };
}

function notAllowed(requested: string) {
  return new AppError(
    'directory_not_allowed',
    `current_directory "${requested}" is outside the allowed roots; the server allows --current-directory and each --allow-directory.`,
  );
}
