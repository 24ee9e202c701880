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
}
