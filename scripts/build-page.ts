/**
 * Builds the chat page (src/page/) into one script and one stylesheet, and writes them as a module
 * the server imports (src/http/page-assets.generated.ts, not committed), so every runtime (Node,
 * Bun, Workers) serves the same bytes without reading files. Run by `npm run build` (and so by
 * `prepare`, `npm ci` and `npm pack`) and by the test setup.
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = new URL('../', import.meta.url);
const output = new URL('src/http/page-assets.generated.ts', root);

export async function buildPage() {
  const result = await build({
    entryPoints: [fileURLToPath(new URL('src/page/main.ts', root))],
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['chrome111', 'firefox111', 'safari16.4'],
    write: false,
    legalComments: 'none',
  });
  const script = result.outputFiles[0].text;
  const style = await readFile(new URL('src/page/style.css', root), 'utf8');
  const minifiedStyle = (await build({ stdin: { contents: style, loader: 'css' }, minify: true, write: false }))
    .outputFiles[0].text;
  const hash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 12);
  const module = [
    '// Built by scripts/build-page.ts from src/page/: do not edit, do not commit.',
    'export const pageAssets = {',
    `  script: ${JSON.stringify(script)},`,
    `  style: ${JSON.stringify(minifiedStyle)},`,
    `  scriptPath: ${JSON.stringify(`/assets/app-${hash(script)}.js`)},`,
    `  stylePath: ${JSON.stringify(`/assets/app-${hash(minifiedStyle)}.css`)},`,
    '};',
    '',
  ].join('\n');
  const previous = await readFile(output, 'utf8').catch(() => '');
  if (previous !== module) await writeFile(output, module);
  return { script, style: minifiedStyle };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { script, style } = await buildPage();
  console.error(`page: script ${script.length} bytes, style ${style.length} bytes`);
}
