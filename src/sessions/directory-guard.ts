/**
 * Where a path a tool call names really points, seen from a session's directory (see
 * `DirectoryGuard.locate`).
 */
export type LocatedPath =
  /** Inside the directory: relative to it, `/`-separated; `.` is the directory itself. */
  | { inside: true; path: string }
  /** Outside it, or where it points cannot be known: absolute (or as written, when it cannot be made so). */
  | { inside: false; path: string };

/**
 * Decides which working directory a session may have. The Node implementation resolves `..` and
 * symlinks on the real filesystem; a runtime without one (Workers) accepts only its configured root.
 */
export interface DirectoryGuard {
  /**
   * The absolute, canonical form of `requested` (relative paths resolve against the server's
   * working directory). Throws AppError 403 `directory_not_allowed` when it lies outside every
   * allowed root, 400 `invalid_request` when it does not exist or is not a directory.
   */
  resolve(requested: string): Promise<string>;
  /**
   * Where `path` (relative paths resolve against `directory`, a directory `resolve` gave) points,
   * as `resolve` would see it: `.` and `..` resolved, and where there is a filesystem, symlinks
   * resolved along the part of the path that exists (a file about to be written need not exist).
   * A path through a symlink that points nowhere is never `inside`. Never throws.
   */
  locate(directory: string, path: string): Promise<LocatedPath>;
}
