// npm run size:worker: builds the Workers bundle as `wrangler deploy` would (offline, no deploy)
// and reports its size. The Workers test builds it the same way.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Builds the Worker into `outdir` with wrangler; returns the bundle's path. */
export async function buildWorker(outdir: string): Promise<string> {
  await promisify(execFile)(join(root, 'node_modules/.bin/wrangler'), ['deploy', '--dry-run', '--outdir', outdir], {
    cwd: root,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', WRANGLER_HIDE_BANNER: 'true', CI: 'true' },
  });
  return join(outdir, 'worker.js');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const bundle = await buildWorker(await mkdtemp(join(tmpdir(), 'worker-')));
  const code = await readFile(bundle);
  const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
  console.log(
    `Worker bundle: ${kib(code.length)}, ${kib(gzipSync(code).length)} gzipped (Workers' free plan allows 3 MiB gzipped)`,
  );
  console.log(`contains child_process: ${code.includes('child_process') ? 'yes' : 'no'}`);
}
