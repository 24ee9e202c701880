import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 20_000,
    hookTimeout: 60_000,
    // The chat page's bundle (src/http/page-assets.generated.ts), built from the current sources.
    globalSetup: ['test/build-page.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          include: ['test/**/*.test.ts'],
          exclude: ['test/workers/**'],
          setupFiles: ['test/setup.ts'],
        },
      },
      {
        extends: true,
        // Tests that run inside workerd, with the bindings of wrangler.toml.
        plugins: [cloudflareTest({ main: './src/entry/worker.ts', wrangler: { configPath: './wrangler.toml' } })],
        test: { name: 'workers', include: ['test/workers/**/*.test.ts'] },
      },
    ],
  },
});
