import { lstat, realpath, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { AppError } from '../errors.js';
import type { DirectoryGuard, LocatedPath } from '../sessions/directory-guard.js';

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

/**
 * The real path of `absolute` when it exists; else the real path of its longest existing parent
 * with the rest appended; undefined when a part of it exists but cannot be resolved (a symlink
 * pointing nowhere, a loop, no permission), since the rest may then lead anywhere.
 */
async function realPathOfExisting(absolute: string): Promise<string | undefined> {
  const rest: string[] = [];
  for (let path = absolute; ; path = dirname(path)) {
    try {
      return join(await realpath(path), ...rest);
    } catch {
      const exists = await lstat(path).then(
        () => true,
        () => false,
      );
      if (exists || dirname(path) === path) return undefined;
      rest.unshift(basename(path));
    }
  }
}

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

    async locate(directory, path): Promise<LocatedPath> {
      const absolute = resolve(directory, path);
      const [real, home] = await Promise.all([
        realPathOfExisting(absolute),
        realpath(directory).catch(() => directory),
      ]);
      if (real === undefined || !inside(real, home)) return { inside: false, path: real ?? absolute };
      return { inside: true, path: relative(home, real).split(sep).join('/') || '.' };
    },
  };
}

function notAllowed(requested: string) {
  return new AppError(
    'directory_not_allowed',
    `current_directory "${requested}" is outside the allowed roots; the server allows --current-directory and each --allow-directory.`,
  );
}
