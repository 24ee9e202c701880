/**
 * Bundles the Node entry (src/entry/node.ts) with its dependencies into dist/cli/, which the bin
 * and `npm start` run: Node then parses a few files instead of resolving and reading some 600
 * modules, which halves the time to `/health` and trims the idle memory (see README, "Speed and
 * memory"). What the entry loads lazily (`import()`: the LLM clients, the MCP SDK, prom-client)
 * stays in chunks of its own, loaded on first use as before. Native and optional packages
 * (libsql, the OpenTelemetry SDK) stay outside, resolved from node_modules. The library (`exports`)
 * remains tsc's output. Run by `npm run build` (and so by `prepare`, `npm ci` and `npm pack`).
 */
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Metafile, type Plugin } from 'esbuild';

const root = new URL('../', import.meta.url);

/** Packages never bundled: a native addon, and the tracing SDK that only `OTEL_EXPORTER_OTLP_ENDPOINT` loads. */
export const externalPackages = [
  'libsql',
  '@opentelemetry/sdk-trace-node',
  '@opentelemetry/exporter-trace-otlp-http',
  '@opentelemetry/resources',
];

/**
 * zod re-exports every translation of its error messages (`z.locales`, 60-odd modules, a third of
 * its code), which all load with it; the server speaks English only (zod's default, `en`), so the
 * bundle keeps that one.
 */
const zodEnglishOnly: Plugin = {
  name: 'zod-english-only',
  setup(builder) {
    builder.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]zod[\\/]v4[\\/]/.test(args.importer)
        ? { path: join(dirname(args.importer), args.path), namespace: 'zod-english-only' }
        : undefined,
    );
    builder.onLoad({ filter: /.*/, namespace: 'zod-english-only' }, (args) => ({
      contents: "export { default as en } from './en.js';",
      resolveDir: dirname(args.path),
      loader: 'js',
    }));
  },
};

/** Builds the entry into `outdir` (emptied first); its metafile says what went where. */
export async function buildServer(outdir = fileURLToPath(new URL('dist/cli/', root))): Promise<Metafile> {
  await rm(outdir, { recursive: true, force: true });
  const result = await build({
    entryPoints: { 'llm-chat-server': fileURLToPath(new URL('src/entry/node.ts', root)) },
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // Smaller source is less to read and parse, and V8 keeps each script's source in memory.
    // BUILD_READABLE=1 keeps names and layout, for CPU profiles that say where time goes.
    minify: !process.env.BUILD_READABLE,
    external: externalPackages,
    // Bundled CommonJS packages (prom-client, cross-spawn) require Node's modules.
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
    plugins: [zodEnglishOnly],
    metafile: true,
    logLevel: 'warning',
  });
  return result.metafile;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const metafile = await buildServer();
  const outputs = Object.values(metafile.outputs);
  const bytes = outputs.reduce((total, output) => total + output.bytes, 0);
  console.error(`server: ${outputs.length} files, ${(bytes / 1024).toFixed(0)} KiB`);
}
