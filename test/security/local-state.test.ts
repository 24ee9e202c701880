import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { projectDirectory } from '../helpers/test-app.js';

// `wrangler dev` keeps Miniflare's local KV and Durable Object databases in .wrangler/state: local
// sessions and a default-session pointer, which must not travel with the repository.

const git = (...args: string[]) => execFileSync('git', args, { cwd: projectDirectory, encoding: 'utf8' });

describe('local Workers state', () => {
  it('nothing under .wrangler/ is tracked', () => {
    expect(git('ls-files', '--', '.wrangler')).toBe('');
  });

  it('.wrangler/ is ignored, so a later `wrangler dev` adds nothing to commit', () => {
    expect(git('check-ignore', '--no-index', '.wrangler/state/v3/kv/metadata.sqlite').trim()).toBe(
      '.wrangler/state/v3/kv/metadata.sqlite',
    );
  });
});
