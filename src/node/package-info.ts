import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** What the running package knows of itself, found from this module's location, never the working directory. */
export interface PackageInfo {
  version: string;
  /** The package's own servers file (`config/servers.json`). */
  defaultServersPath: string;
  /**
   * `${NAME}` values the default servers file uses: `FILESYSTEM_SERVER`, the entry of
   * `@modelcontextprotocol/server-filesystem` wherever npm installed it (absent if it is missing).
   */
  variables: Record<string, string>;
}

// This module lies in src/node (sources), dist/node (compiled) or dist/cli (bundled): the package root is two levels up each time.
const root = new URL('../../', import.meta.url);

export function packageInfo(): PackageInfo {
  const { version } = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { version: string };
  const variables: Record<string, string> = {};
  try {
    variables.FILESYSTEM_SERVER = createRequire(import.meta.url).resolve(
      '@modelcontextprotocol/server-filesystem/dist/index.js',
    );
  } catch {
    // A broken install: the default server then fails to start and says so in /health.
  }
  return { version, defaultServersPath: fileURLToPath(new URL('config/servers.json', root)), variables };
}
