import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ArgumentRule, IndexedRule } from '../../src/approvals/argument-rules.js';
import type { Grant } from '../../src/approvals/grants.js';
import { isPathArgument, matchRules, rulesOfTool } from '../../src/approvals/match-rules.js';
import { decide } from '../../src/approvals/policy.js';
import { createNodeDirectoryGuard } from '../../src/node/directory-guard.js';
import { createRootDirectoryGuard } from '../../src/sessions/root-directory-guard.js';
import type { ToolInfo } from '../../src/tools/tool-provider.js';
import { temporaryDirectory } from '../helpers/test-app.js';

const rule = (tool: string, decision: ArgumentRule['decision'], args: Record<string, string> = {}): ArgumentRule => ({
  tool,
  decision,
  arguments: args,
});
const indexed = (...rules: ArgumentRule[]): IndexedRule[] => rules.map((each, index) => ({ index, rule: each }));

/**
 * A session directory `project` with docs/, a file, a symlink into the project, a symlink out of
 * it, and a symlink pointing nowhere; `outside` beside it.
 */
let parent: string;
let project: string;
let locate: (path: string) => ReturnType<ReturnType<typeof createNodeDirectoryGuard>['locate']>;
beforeAll(async () => {
  parent = await temporaryDirectory('rules-match-');
  project = join(parent, 'project');
  await mkdir(join(project, 'docs'), { recursive: true });
  await mkdir(join(project, 'private'));
  await mkdir(join(parent, 'outside'));
  await writeFile(join(project, 'docs', 'guide.md'), 'guide');
  await symlink(join(project, 'private'), join(project, 'docs', 'into-private'));
  await symlink(join(parent, 'outside'), join(project, 'docs', 'out'));
  await symlink(join(project, 'gone'), join(project, 'docs', 'dangling'));
  const guard = createNodeDirectoryGuard({ base: project, roots: [project] });
  locate = (path) => guard.locate(project, path);
});

const allowDocs = indexed(rule('write_file', 'allow', { path: 'docs/**' }));
const allowedPath = async (path: unknown) => (await matchRules(allowDocs, { path }, locate)).length === 1;

describe('path arguments are matched where they really point, seen from the session directory', () => {
  it('a relative path inside docs/ matches docs/**; one elsewhere does not', async () => {
    expect(await allowedPath('docs/guide.md')).toBe(true);
    expect(await allowedPath('docs/new/file.md')).toBe(true);
    expect(await allowedPath('./docs/./guide.md')).toBe(true);
    expect(await allowedPath('notes.txt')).toBe(false);
    expect(await allowedPath('docs')).toBe(false);
  });

  it('`..` is resolved first: docs/../x is x, and ../project/docs/x is docs/x', async () => {
    expect(await allowedPath('docs/../private/key.txt')).toBe(false);
    expect(await allowedPath('docs/../../outside/x.md')).toBe(false);
    expect(await allowedPath('../project/docs/x.md')).toBe(true);
    expect(await allowedPath('docs/../docs/x.md')).toBe(true);
  });

  it('symlinks are resolved: a link under docs/ into private/ or out of the directory is not docs/', async () => {
    expect(await allowedPath('docs/into-private/key.txt')).toBe(false);
    expect(await allowedPath('docs/into-private')).toBe(false);
    expect(await allowedPath('docs/out/x.md')).toBe(false);
    // A link pointing nowhere: where a write through it lands cannot be known.
    expect(await allowedPath('docs/dangling')).toBe(false);
    expect(await allowedPath('docs/dangling/x.md')).toBe(false);
    expect(await locate('docs/into-private/key.txt')).toEqual({ inside: true, path: 'private/key.txt' });
    expect(await locate('docs/out/x.md')).toEqual({ inside: false, path: join(parent, 'outside', 'x.md') });
  });

  it('an absolute path inside the directory matches as its relative form; one outside never matches an allow', async () => {
    expect(await allowedPath(join(project, 'docs', 'guide.md'))).toBe(true);
    expect(await allowedPath('/etc/passwd')).toBe(false);
    expect(
      (await matchRules(indexed(rule('*', 'allow', { path: '**' })), { path: '/etc/passwd' }, locate)).length,
    ).toBe(0);
    expect(
      (await matchRules(indexed(rule('*', 'allow', { path: '/etc/**' })), { path: '/etc/passwd' }, locate)).length,
    ).toBe(0);
    // `~` is the home directory to many servers: never inside.
    expect(await allowedPath('~/docs/x.md')).toBe(false);
  });

  it('deny and ask rules see a path outside as its absolute real path', async () => {
    const denyEtc = indexed(rule('*', 'deny', { path: '/etc/**' }), rule('*', 'ask', { path: `${parent}/outside/**` }));
    expect(await matchRules(denyEtc, { path: '/etc/../etc/passwd' }, locate)).toEqual([denyEtc[0]]);
    expect(await matchRules(denyEtc, { path: 'docs/out/x.md' }, locate)).toEqual([denyEtc[1]]);
    expect(await matchRules(denyEtc, { path: 'docs/guide.md' }, locate)).toEqual([]);
  });

  it('a deny of **/.env finds .env files at any depth, through `..` and as file: URLs', async () => {
    const denyEnv = indexed(rule('*', 'deny', { path: '**/.env' }));
    for (const path of ['.env', 'docs/.env', 'docs/../.env', 'a/.git/.env', `file://${project}/docs/.env`]) {
      expect(await matchRules(denyEnv, { path }, locate), path).toEqual(denyEnv);
    }
    expect(await matchRules(denyEnv, { path: 'docs/.env.example' }, locate)).toEqual([]);
  });

  it('arrays: an allow needs every element to match, a deny any one', async () => {
    const rules = indexed(rule('*', 'allow', { paths: 'docs/**' }), rule('*', 'deny', { paths: '**/.env' }));
    expect(await matchRules(rules, { paths: ['docs/a.md', 'docs/b.md'] }, locate)).toEqual([rules[0]]);
    expect(await matchRules(rules, { paths: ['docs/a.md', 'notes.txt'] }, locate)).toEqual([]);
    expect(await matchRules(rules, { paths: ['notes.txt', 'docs/.env'] }, locate)).toEqual([rules[1]]);
    expect(await matchRules(rules, { paths: [] }, locate)).toEqual([]);
  });

  it('every argument of a rule must match; an argument the call lacks matches nothing', async () => {
    const rules = indexed(rule('move_file', 'allow', { source: 'docs/**', destination: 'docs/**' }));
    expect(await matchRules(rules, { source: 'docs/a.md', destination: 'docs/b.md' }, locate)).toEqual(rules);
    expect(await matchRules(rules, { source: 'docs/a.md', destination: 'b.md' }, locate)).toEqual([]);
    expect(await matchRules(rules, { source: 'docs/a.md' }, locate)).toEqual([]);
  });

  it('other arguments are matched as written, numbers and booleans as text; a rule with no arguments always matches', async () => {
    const rules = indexed(
      rule('run', 'allow', { command: 'git status*' }),
      rule('run', 'deny', { command: '*../*' }),
      rule('run', 'ask', { force: 'true' }),
      rule('run', 'ask'),
    );
    expect(await matchRules(rules, { command: 'git status --short' }, locate)).toEqual([rules[0], rules[3]]);
    expect(await matchRules(rules, { command: 'cat ../secret' }, locate)).toEqual([rules[1], rules[3]]);
    expect(await matchRules(rules, { command: 'ls', force: true }, locate)).toEqual([rules[2], rules[3]]);
  });

  it('which argument names are paths', () => {
    for (const name of ['path', 'paths', 'source', 'destination', 'file_path', 'filePath', 'output_dir', 'cwd']) {
      expect(isPathArgument(name), name).toBe(true);
    }
    for (const name of ['content', 'command', 'profile', 'pattern', 'query'])
      expect(isPathArgument(name), name).toBe(false);
  });

  it('the tool glob picks the rules of a tool, keeping their places in the list', async () => {
    const rules = [rule('write_*', 'allow'), rule('read_text_file', 'deny'), rule('*', 'ask')];
    expect(await rulesOfTool(rules, 'write_file')).toEqual([
      { index: 0, rule: rules[0] },
      { index: 2, rule: rules[2] },
    ]);
    expect((await rulesOfTool(rules, 'read_text_file')).map((each) => each.index)).toEqual([1, 2]);
    expect((await rulesOfTool(rules, 'github/create_issue')).map((each) => each.index)).toEqual([2]);
  });
});

describe('the lexical guard of runtimes without a filesystem (Workers)', () => {
  it('resolves `..` against the session directory and says what lies outside', async () => {
    const guard = createRootDirectoryGuard({ base: '/work', roots: ['/work'] });
    expect(await guard.locate('/work/project', 'docs/../docs/a.md')).toEqual({ inside: true, path: 'docs/a.md' });
    expect(await guard.locate('/work/project', '.')).toEqual({ inside: true, path: '.' });
    expect(await guard.locate('/work/project', '../other/a.md')).toEqual({ inside: false, path: '/work/other/a.md' });
    expect(await guard.locate('/work/project', '/work/project-2/a')).toEqual({
      inside: false,
      path: '/work/project-2/a',
    });
  });
});

describe('precedence: deny beats ask beats allow, with the lists, grants and hints', () => {
  const tool = (extra: Partial<ToolInfo> = {}): ToolInfo => ({
    name: 'write_file',
    server: 'files',
    serverToolName: 'write_file',
    description: '',
    inputSchema: {},
    fingerprint: '',
    rule: 'ask',
    ...extra,
  });
  const [allow, ask, deny] = indexed(rule('*', 'allow'), rule('*', 'ask'), rule('*', 'deny'));

  it('among matching rules, whatever their order: deny, then ask, then allow', () => {
    expect(decide(tool(), undefined, false, [allow, ask, deny])).toMatchObject({
      kind: 'deny',
      by: { kind: 'rule', index: 2 },
    });
    expect(decide(tool(), undefined, false, [allow, ask])).toEqual({
      kind: 'ask',
      by: { kind: 'rule', server: 'files', ...ask },
    });
    expect(decide(tool(), undefined, false, [allow])).toEqual({
      kind: 'allow',
      by: { kind: 'rule', server: 'files', ...allow },
    });
    expect(decide(tool(), undefined, false, [])).toEqual({ kind: 'ask' });
  });

  it('the deny list beats an allow rule; an allow rule needs no list', () => {
    expect(decide(tool({ rule: 'deny' }), undefined, false, [allow])).toMatchObject({
      kind: 'deny',
      by: { kind: 'list', list: 'deny' },
    });
    expect(decide(tool({ rule: 'allow' }), undefined, false, [deny])).toMatchObject({
      kind: 'deny',
      by: { kind: 'rule' },
    });
  });

  it('an ask rule beats the autoApprove list, a session grant and a read-only hint', () => {
    const everything = tool({ rule: 'allow', readOnlyHint: true });
    const grant: Grant = {
      server: 'files',
      tool: 'write_file',
      fingerprint: '',
      for: 'session',
      arguments: 'any',
      request_id: 'r0',
      granted_at: 0,
    };
    expect(decide(everything, grant, true, [ask])).toMatchObject({ kind: 'ask', by: { kind: 'rule', index: 1 } });
    expect(decide(everything, grant, true, [])).toMatchObject({ kind: 'allow', by: { kind: 'list' } });
    expect(decide(tool({ readOnlyHint: true }), grant, true, [])).toMatchObject({
      kind: 'allow',
      by: { kind: 'grant', server: 'files', tool: 'write_file', request_id: 'r0' },
    });
    expect(decide(tool({ readOnlyHint: true }), undefined, true, [])).toMatchObject({
      kind: 'allow',
      by: { kind: 'read_only_hint' },
    });
  });
});
