import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseServersConfig } from '../../src/tools/servers-config.js';
import { filesystemServer } from '../helpers/mcp-servers.js';
import { runToExit, startServer } from '../helpers/server-process.js';
import { temporaryDirectory } from '../helpers/test-app.js';

const withRules = (rules: unknown) =>
  parseServersConfig(JSON.stringify({ mcpServers: { files: { command: 'node', rules } } }), 'servers.json');

describe('"rules" in servers.json', () => {
  it('argument patterns beside "tool" and "decision", or in "arguments", become one list; no rules is []', () => {
    const parsed = withRules([
      { tool: 'write_file', path: 'docs/**', decision: 'allow' },
      { tool: 'meta', decision: 'ask', arguments: { tool: 'rm*', decision: 'yes' }, mode: 'x' },
    ]);
    expect(parsed.files.rules).toEqual([
      { tool: 'write_file', arguments: { path: 'docs/**' }, decision: 'allow' },
      { tool: 'meta', arguments: { mode: 'x', tool: 'rm*', decision: 'yes' }, decision: 'ask' },
    ]);
    expect(withRules(undefined).files.rules).toEqual([]);
  });

  it.each([
    [{ tool: 'write_file', decision: 'maybe' }, 'decision: must be "allow", "ask" or "deny"'],
    [{ tool: 'write_file', path: 3, decision: 'allow' }, 'path: an argument pattern must be a glob string'],
    [{ tool: 'write_file', path: '', decision: 'allow' }, 'path: an argument pattern must not be empty'],
    [{ path: 'docs/**', decision: 'allow' }, 'tool: must be a tool name or glob'],
    [{ tool: 'x', path: 'a', arguments: { path: 'b' }, decision: 'deny' }, 'argument "path" is given twice'],
  ])('a bad rule is an error naming the server, the rule and the problem: %j', (rule, problem) => {
    const rules = [{ tool: '*', path: '**/.env', decision: 'deny' }, rule];
    expect(() => withRules(rules)).toThrow(`servers.json: mcpServers.files.rules[1] ${JSON.stringify(rule)}: `);
    expect(() => withRules(rules)).toThrow(problem);
  });

  it('"rules" that is not a list is an error naming it', () => {
    expect(() => withRules({ tool: '*', decision: 'deny' })).toThrow('mcpServers.files.rules');
  });
});

describe('the real server and its rules', { timeout: 60_000 }, () => {
  it('a servers file with a rule that does not parse: exit 2, one stderr line naming the rule', async () => {
    const cwd = await temporaryDirectory();
    const rule = { tool: 'write_file', path: 'docs/**', decision: 'allways' };
    await writeFile(
      join(cwd, 'servers.json'),
      JSON.stringify({ mcpServers: { files: filesystemServer({ rules: [rule] }) } }),
    );
    const { code, stderr } = await runToExit(['--servers-config', 'servers.json'], { cwd });
    expect(code).toBe(2);
    const lines = stderr.split('\n').filter((line) => line.trim() !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(
      `mcpServers.files.rules[0] ${JSON.stringify(rule)}: decision: must be "allow", "ask" or "deny"`,
    );
  });

  it('rules naming a tool the server does not offer, or an argument no tool it names takes: a warning each at start-up', async () => {
    const cwd = await temporaryDirectory();
    const rules = [
      { tool: 'write_file', path: 'docs/**', decision: 'allow' },
      { tool: 'wirte_file', path: 'docs/**', decision: 'allow' },
      { tool: '*', pth: '**/.env', decision: 'deny' },
      { tool: 'read_*', path: '**/.env', decision: 'deny' },
    ];
    await writeFile(join(cwd, 'servers.json'), JSON.stringify({ mcpServers: { files: filesystemServer({ rules }) } }));
    const server = await startServer(['--servers-config', 'servers.json'], { cwd });
    try {
      const warnings = () =>
        server
          .output()
          .split('\n')
          .filter((line) => line.includes('WARN rules['));
      await expect.poll(() => warnings().length, { timeout: 30_000, interval: 100 }).toBe(2);
      expect(warnings()[0]).toMatch(
        /WARN rules\[1\] of server "files" \(tool "wirte_file", path "docs\/\*\*"\) names no tool the server offers, so it never applies \(its tools: .*write_file.*\)$/,
      );
      expect(warnings()[1]).toMatch(
        /WARN rules\[2\] of server "files" \(tool "\*", pth "\*\*\/\.env"\) has argument "pth", which no tool it names takes, so it never applies/,
      );
    } finally {
      await server.stop();
    }
  });
});
