import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectDirectory } from '../helpers/test-app.js';

// The documents are read on GitHub, in an editor and in the npm package: only links relative to the
// document work in all three (a link starting with / resolves against the site, not the repository).

const documents = ['README.md', ...readdirSync(join(projectDirectory, 'docs')).map((name) => `docs/${name}`)].filter(
  (path) => path.endsWith('.md'),
);

/** The text without code blocks and code spans, where brackets are not links. */
const prose = (markdown: string) => markdown.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');

/** GitHub's anchors for a document's headings: lower case, punctuation dropped, spaces as hyphens. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const [, heading] of markdown.replace(/```[\s\S]*?```/g, '').matchAll(/^#{1,6} +(.+)$/gm)) {
    const slug = heading
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    result.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return result;
}

const links = (path: string) =>
  [...prose(readFileSync(join(projectDirectory, path), 'utf8')).matchAll(/\]\(([^)\s]+)\)/g)]
    .map((match) => match[1])
    .filter((target) => !/^(https?|mailto):/.test(target));

describe.each(documents)('the links of %s', (path) => {
  it('are relative to the document and reach a file and heading that exist', () => {
    for (const target of links(path)) {
      expect(target, `${path}: ${target}`).not.toMatch(/^\//);
      const [file, fragment] = target.split('#');
      const resolved = file ? join(dirname(join(projectDirectory, path)), file) : join(projectDirectory, path);
      expect(existsSync(resolved), `${path}: ${target} (${relative(projectDirectory, resolved)})`).toBe(true);
      if (fragment !== undefined && resolved.endsWith('.md')) {
        expect(anchors(readFileSync(resolved, 'utf8')), `${path}: ${target}`).toContain(fragment);
      }
    }
  });
});
