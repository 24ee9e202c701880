// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${NAME} is servers.json substitution syntax, not a template
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configuredRule, parseServersConfig, resolveServer } from '../../src/tools/servers-config.js';
import { faultServer } from '../helpers/mcp-servers.js';
import { runToExit, startServer } from '../helpers/server-process.js';
import { temporaryDirectory } from '../helpers/test-app.js';

const parse = (value: unknown, source = 'servers.json') => parseServersConfig(JSON.stringify(value), source);

describe('parseServersConfig', () => {
  it('reads a file with a stdio server and an HTTP server, with the defaults filled in', () => {
    const parsed = parse({
      mcpServers: {
        calc: { command: 'node', args: ['calc.js'], env: { A: '1' }, autoApprove: ['add'], timeout: 5 },
        remote: { url: 'https://example.com/mcp', headers: { Authorization: 'Bearer x' } },
      },
    });
    expect(Object.keys(parsed).sort()).toEqual(['calc', 'remote']);
    expect(parsed.calc).toMatchObject({
      command: 'node',
      args: ['calc.js'],
      env: { A: '1' },
      autoApprove: ['add'],
      timeout: 5,
      disabled: false,
      deny: [],
      excludedTools: [],
    });
    expect(parsed.calc.url).toBeUndefined();
    expect(parsed.remote).toMatchObject({
      url: 'https://example.com/mcp',
      headers: { Authorization: 'Bearer x' },
      args: [],
      env: {},
      autoApprove: [],
    });
    expect(parsed.remote.command).toBeUndefined();
  });

  it('a file without mcpServers means no servers', () => {
    expect(parse({})).toEqual({});
    expect(parse({ mcpServers: {} })).toEqual({});
  });

  it('an entry with both command and url is an error naming the server', () => {
    expect(() => parse({ mcpServers: { twofold: { command: 'node', url: 'http://127.0.0.1:1/mcp' } } })).toThrow(
      /twofold/,
    );
  });

  it('an entry with neither command nor url is an error naming the server', () => {
    expect(() => parse({ mcpServers: { empty: { args: ['a'] } } })).toThrow(/empty/);
  });

  it('a field of the wrong type is an error naming mcpServers.<name>.<field>', () => {
    expect(() => parse({ mcpServers: { calc: { command: 'node', args: 'x' } } }, 'my-servers.json')).toThrow(
      /mcpServers\.calc\.args/,
    );
    expect(() => parse({ mcpServers: { calc: { command: 'node', args: 'x' } } }, 'my-servers.json')).toThrow(
      /my-servers\.json/,
    );
  });

  it('invalid JSON is an error naming the source', () => {
    expect(() => parseServersConfig('{ "mcpServers": ', '/etc/app/servers.json')).toThrow(/\/etc\/app\/servers\.json/);
  });

  it('accepts alwaysAllow as an alias of autoApprove', () => {
    const parsed = parse({ mcpServers: { calc: { command: 'node', alwaysAllow: ['add'], deny: ['rm'] } } });
    expect(configuredRule(parsed.calc, 'add')).toBe('allow');
    expect(configuredRule(parsed.calc, 'rm')).toBe('deny');
    expect(configuredRule(parsed.calc, 'other')).toBe('ask');
  });

  it('resolveServer substitutes ${CURRENT_DIRECTORY} and ${NAME} in args, env, url and headers; unknown names to ""', () => {
    const parsed = parse({
      mcpServers: {
        local: {
          command: 'node',
          args: ['${CURRENT_DIRECTORY}/server.js', '--token=${TOKEN}', '--x=${NOT_SET}'],
          env: { ROOT: '${CURRENT_DIRECTORY}', KEY: '${TOKEN}', GONE: 'a${NOT_SET}b' },
        },
        remote: {
          url: 'http://${HOST_NAME}:8080/${NOT_SET}mcp',
          headers: { Authorization: 'Bearer ${TOKEN}', 'X-Dir': '${CURRENT_DIRECTORY}', 'X-None': '${NOT_SET}' },
        },
      },
    });
    const variables = { CURRENT_DIRECTORY: '/work/session', TOKEN: 'tok-1', HOST_NAME: 'mcp.internal' };
    const local = resolveServer(parsed.local, variables);
    expect(local.args).toEqual(['/work/session/server.js', '--token=tok-1', '--x=']);
    expect(local.env).toEqual({ ROOT: '/work/session', KEY: 'tok-1', GONE: 'ab' });
    const remote = resolveServer(parsed.remote, variables);
    expect(remote.url).toBe('http://mcp.internal:8080/mcp');
    expect(remote.headers).toEqual({ Authorization: 'Bearer tok-1', 'X-Dir': '/work/session', 'X-None': '' });
    // The parsed configuration itself is left as it was.
    expect(parsed.local.args[0]).toBe('${CURRENT_DIRECTORY}/server.js');
  });
});

/** Runs the real entry to its exit (start-up failures only). */
const runEntry = (args: string[], cwd: string) => runToExit(args, { cwd });

const stderrLines = (stderr: string) => stderr.split('\n').filter((line) => line.trim() !== '');

// Each test starts the real entry: on a loaded CI machine that takes seconds.
describe('the entry (bin/llm-chat-server.js) and its servers file', { timeout: 90_000 }, () => {
  it('--servers-config naming a missing file: exit 2 and one stderr line naming --servers-config', async () => {
    const cwd = await temporaryDirectory();
    const { code, stderr } = await runEntry(['--servers-config', 'missing.json'], cwd);
    expect(code).toBe(2);
    expect(stderrLines(stderr)).toHaveLength(1);
    expect(stderr).toContain('--servers-config');
    expect(stderr).toContain('missing.json');
  });

  it('a servers file with a bad entry: exit 2 and one stderr line naming the server', async () => {
    const cwd = await temporaryDirectory();
    await writeFile(
      join(cwd, 'bad.json'),
      JSON.stringify({ mcpServers: { good: { command: 'node' }, broken: { command: 'node', url: 'http://x/mcp' } } }),
    );
    const { code, stderr } = await runEntry(['--servers-config', 'bad.json'], cwd);
    expect(code).toBe(2);
    expect(stderrLines(stderr)).toHaveLength(1);
    expect(stderr).toContain('broken');
  });

  it('a servers file with no servers: starts, and /health shows no MCP servers', async () => {
    const cwd = await temporaryDirectory();
    await writeFile(join(cwd, 'none.json'), JSON.stringify({ mcpServers: {} }));
    const server = await startServer(['--servers-config', 'none.json'], { cwd });
    try {
      const health = await (await fetch(`${server.url}/health`)).json();
      // No Ollama listens here: `status` may be `degraded` (see test/e2e/startup-checks.test.ts).
      expect(health.mcp).toEqual({});
    } finally {
      await server.stop();
    }
  });

  it('--servers-config naming a file with a stdio fault server: /health lists it as connected', async () => {
    const cwd = await temporaryDirectory();
    await mkdir(join(cwd, 'config'));
    await writeFile(
      join(cwd, 'config', 'servers.json'),
      JSON.stringify({
        mcpServers: {
          fault: faultServer(join(cwd, 'count.txt')),
        },
      }),
    );
    const server = await startServer(['--servers-config', 'config/servers.json'], { cwd });
    try {
      await expect
        .poll(async () => (await (await fetch(`${server.url}/health`)).json()).mcp, { timeout: 60_000, interval: 100 })
        .toEqual({ fault: 'connected' });
    } finally {
      await server.stop();
    }
  });
});

describe('a runtime that cannot start processes (Workers)', () => {
  it('disables every stdio server with one warning naming them, and /health-style status says disabled', async () => {
    const { createMcpToolProvider } = await import('../../src/tools/mcp-tool-provider.js');
    const { createLogger } = await import('../../src/logger.js');
    const lines: string[] = [];
    const provider = createMcpToolProvider({
      servers: parseServersConfig(
        JSON.stringify({
          mcpServers: {
            files: { command: 'node', args: ['a.js'] },
            git: { command: 'node', args: ['b.js'] },
            remote: { url: 'http://127.0.0.1:9/mcp' },
            off: { command: 'node', disabled: true },
          },
        }),
        'servers.json',
      ),
      variables: {},
      logger: createLogger({ level: 'debug', write: (line) => lines.push(line) }),
      version: 'test',
    });
    const warnings = lines.filter((line) => line.includes('WARN'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('"files", "git"');
    expect(warnings[0]).toContain('stdio');
    expect(provider.status()).toMatchObject({ files: 'disabled', git: 'disabled', off: 'disabled' });
    expect(provider.status().remote).not.toBe('disabled');
  });
});
