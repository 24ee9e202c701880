import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Metafile } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildServer, externalPackages } from '../../scripts/build-server.js';
import { useRedisServer } from '../helpers/redis-server.js';
import { startServer } from '../helpers/server-process.js';
import { temporaryDirectory } from '../helpers/test-app.js';

// The bundle the bin runs (scripts/build-server.ts), built into a folder of its own; the package
// test (test/e2e/package.test.ts) runs the one `npm pack` builds.
let metafile: Metafile;
let entry: string;
const redis = useRedisServer();

beforeAll(async () => {
  // Laid out as in the package: the entry finds package.json two levels up.
  const base = await temporaryDirectory('llm-chat-server-bundle-');
  await writeFile(join(base, 'package.json'), JSON.stringify({ version: '0.0.0-bundle' }));
  const outdir = join(base, 'dist', 'cli');
  metafile = await buildServer(outdir);
  entry = Object.keys(metafile.outputs).find(
    (path) => metafile.outputs[path].entryPoint === 'src/entry/node.ts',
  ) as string;
}, 60_000);

/** The package an input file belongs to (`zod`, `@hono/node-server`), or undefined for our own sources. */
const packageOf = (input: string) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input)?.[1];

/** Every output file Node loads before the entry runs: the entry and what it imports statically. */
function loadedAtStart(): string[] {
  const loaded = new Set<string>();
  const visit = (output: string) => {
    if (loaded.has(output)) return;
    loaded.add(output);
    for (const imported of metafile.outputs[output].imports) {
      if (imported.kind === 'import-statement' && !imported.external) visit(imported.path);
    }
  };
  visit(entry);
  return [...loaded];
}

const packagesIn = (outputs: string[]) =>
  new Set(outputs.flatMap((output) => Object.keys(metafile.outputs[output].inputs).map(packageOf)));

describe('the bundled Node entry (dist/cli)', () => {
  it('loads the LLM clients, the MCP SDK and prom-client only when first used, from chunks of their own', () => {
    const atStart = packagesIn(loadedAtStart());
    const everything = packagesIn(Object.keys(metafile.outputs));
    expect(atStart).toContain('hono');
    expect(atStart).toContain('zod');
    for (const lazy of ['openai', 'ollama', '@modelcontextprotocol/sdk', 'ajv', 'prom-client']) {
      expect(atStart, lazy).not.toContain(lazy);
      expect(everything, lazy).toContain(lazy);
    }
  });

  it('leaves libsql and the tracing SDK to node_modules, imported only where they are used', () => {
    const bundled = packagesIn(Object.keys(metafile.outputs));
    const imported = Object.values(metafile.outputs).flatMap((output) => output.imports);
    for (const name of externalPackages) {
      expect(bundled, name).not.toContain(name);
      expect(imported.filter((item) => item.path === name).map((item) => [item.external, item.kind])).toEqual([
        [true, 'dynamic-import'],
      ]);
    }
  });

  it("keeps zod's English messages only", () => {
    // Files only: the one module that stands in for zod's list of locales is `zod-english-only:…`.
    const locales = Object.keys(metafile.inputs)
      .filter((input) => /^[^:]*zod\/v4\/locales\/[^/]+\.js$/.test(input))
      .map((input) => input.split('/').at(-1));
    expect(locales).toEqual(['en.js']);
  });
});

describe('the bundled Node entry, run', { timeout: 60_000 }, () => {
  it('opens the Redis store: the Redis client, bundled in a chunk of its own, loads', async () => {
    const server = await startServer(['--store', 'redis', '--redis-url', redis.url], {
      cwd: await temporaryDirectory(),
      command: [process.execPath, resolve(entry)],
    });
    try {
      expect(server.output()).toContain(`sessions: Redis at ${redis.url}`);
      const started = await fetch(`${server.url}/start_session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect(started.status).toBe(201);
    } finally {
      await server.stop();
    }
  });
});
