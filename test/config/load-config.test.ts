import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/config/duration.js';
import { type Config, type ConfigKey, configSchema, type OptionNames, optionNames } from '../../src/config/schema.js';
import { type ConfigSources, loadConfig } from '../../src/node/load-config.js';
import { nodeEntry } from '../helpers/server-process.js';

const cwd = resolve('/srv/app');

/** Sources as a test writes them: `dotenv` is the text of a `.env` that `--env-file .env` names. */
type Sources = Partial<ConfigSources> & { dotenv?: string };

function load({ dotenv, ...sources }: Sources = {}) {
  const named = dotenv === undefined ? [] : ['--env-file', '.env'];
  const readEnvFile = (path: string) => {
    if (path !== join(cwd, '.env') || dotenv === undefined)
      throw Object.assign(new Error('missing'), { code: 'ENOENT' });
    return dotenv;
  };
  return loadConfig({ env: {}, cwd, readEnvFile, ...sources, argv: [...(sources.argv ?? []), ...named] });
}

function ok(sources: Sources = {}) {
  const loaded = load(sources);
  if (loaded.kind !== 'config') throw new Error(`expected a config, got ${JSON.stringify(loaded)}`);
  return loaded;
}

function failure(sources: Sources): string {
  const loaded = load(sources);
  if (loaded.kind !== 'error') throw new Error(`expected an error, got ${JSON.stringify(loaded)}`);
  return loaded.message;
}

describe('loadConfig defaults', () => {
  it('fills every setting with its documented default and marks nothing explicit', () => {
    const { config, origins } = ok();
    expect(config).toMatchObject({
      model: 'qwen2.5-coder:latest',
      port: 8000,
      host: '127.0.0.1',
      provider: 'ollama',
      openaiBaseUrl: 'https://openrouter.ai/api/v1',
      ollamaBaseUrl: 'http://localhost:11434',
      contextWindowSize: 8192,
      temperature: 0.7,
      stream: false,
      sessionTtl: 24 * 3_600_000,
      maxSessions: 10_000,
      sessionsPerMinute: 30,
      approvalTimeout: 300_000,
      approvalTtl: 3_600_000,
      resumeGrace: 30_000,
      maxInputChars: 100_000,
      maxBodyBytes: 1_048_576,
      maxToolRounds: 25,
      maxHistoryChars: 2_000_000,
      logFormat: 'text',
      upstreamCheckInterval: 30_000,
      maxToolResultChars: 32_000,
      maxMcpConnections: 64,
      maxFollowers: 16,
      maxStreamBufferBytes: 1_048_576,
      upstreamTimeout: 120_000,
      headersTimeout: 10_000,
      requestTimeout: 30_000,
      allowedModels: [],
      currentDirectory: cwd,
      store: 'sqlite',
    });
    expect(config.dataDir).toBeUndefined();
    expect(config.maxContextWindowSize).toBeUndefined();
    expect(config.apiKey).toBeUndefined();
    expect(config.authToken).toBeUndefined();
    expect(config.serversConfig).toBeUndefined();
    expect(config.envFile).toBeUndefined();
    expect(origins.size).toBe(0);
  });

  it('resolves a relative current directory against the given cwd', () => {
    expect(ok({ argv: ['--current-directory', 'projects/a'] }).config.currentDirectory).toBe(join(cwd, 'projects/a'));
    expect(ok({ env: { CURRENT_DIRECTORY: '/abs/dir' } }).config.currentDirectory).toBe(resolve('/abs/dir'));
  });
});

// [key, flag, env, raw value, parsed value]; a raw value of `true` is a boolean flag given bare.
const originals: [ConfigKey, string, string, string | true, unknown][] = [
  ['apiKey', 'api-key', 'LLM_API_KEY', 'sk-test', 'sk-test'],
  ['model', 'model', 'LLM_MODEL', 'llama3:8b', 'llama3:8b'],
  ['port', 'port', 'PORT', '9001', 9001],
  ['host', 'host', 'HOST', '0.0.0.0', '0.0.0.0'],
  ['provider', 'provider', 'LLM_PROVIDER', 'openai', 'openai'],
  ['openaiBaseUrl', 'openai-base-url', 'OPENAI_BASE_URL', 'https://api.openai.com/v1', 'https://api.openai.com/v1'],
  ['ollamaBaseUrl', 'ollama-base-url', 'OLLAMA_BASE_URL', 'http://gpu:11434', 'http://gpu:11434'],
  ['serversConfig', 'servers-config', 'SERVERS_CONFIG', 'mcp.json', 'mcp.json'],
  ['currentDirectory', 'current-directory', 'CURRENT_DIRECTORY', 'work', join(cwd, 'work')],
  ['contextWindowSize', 'context-window-size', 'CONTEXT_WINDOW_SIZE', '16384', 16384],
  ['temperature', 'temperature', 'TEMPERATURE', '1.5', 1.5],
  ['stream', 'stream', 'STREAM', true, true],
  ['authToken', 'auth-token', 'AUTH_TOKEN', 'hunter2', 'hunter2'],
];

describe('original flags and env variables', () => {
  it.each(originals)('%s is --%s and %s', (key, flag, env, raw, expected) => {
    expect(optionNames[key]).toEqual({ flag, env });
    const argv = raw === true ? [`--${flag}`] : [`--${flag}`, raw];
    const fromFlag = ok({ argv });
    expect(fromFlag.config[key]).toEqual(expected);
    expect([...fromFlag.origins.keys()]).toEqual([key]);
    const fromEnv = ok({ env: { [env]: raw === true ? 'true' : raw } });
    expect(fromEnv.config[key]).toEqual(expected);
    expect([...fromEnv.origins.keys()]).toEqual([key]);
  });
});

describe('additions', () => {
  it.each<[string, Sources, Partial<Config>]>([
    ['--session-ttl 2h', { argv: ['--session-ttl', '2h'] }, { sessionTtl: 7_200_000 }],
    ['SESSION_TTL 90m', { env: { SESSION_TTL: '90m' } }, { sessionTtl: 5_400_000 }],
    ['a bare duration in seconds', { env: { APPROVAL_TIMEOUT: '45' } }, { approvalTimeout: 45_000 }],
    [
      '--allow-directory repeated',
      { argv: ['--allow-directory', '/a', '--allow-directory', '/b'] },
      { allowDirectory: ['/a', '/b'] },
    ],
    [
      'ALLOW_DIRECTORY comma-separated',
      { env: { ALLOW_DIRECTORY: '/a, /b,,/c' } },
      { allowDirectory: ['/a', '/b', '/c'] },
    ],
    ['--cors-origin', { argv: ['--cors-origin', 'https://app.example'] }, { corsOrigin: ['https://app.example'] }],
    ['MAX_MCP_CONNECTIONS', { env: { MAX_MCP_CONNECTIONS: '8' } }, { maxMcpConnections: 8 }],
    ['ALLOWED_MODELS comma-separated', { env: { ALLOWED_MODELS: 'a:7b, b' } }, { allowedModels: ['a:7b', 'b'] }],
    ['--max-context-window-size', { argv: ['--max-context-window-size', '8192'] }, { maxContextWindowSize: 8192 }],
    ['--headers-timeout 5s', { argv: ['--headers-timeout', '5s'] }, { headersTimeout: 5000 }],
    ['REQUEST_TIMEOUT 0 (no limit)', { env: { REQUEST_TIMEOUT: '0' } }, { requestTimeout: 0 }],
    ['--require-session-id', { argv: ['--require-session-id'] }, { requireSessionId: true }],
    ['LOG_LEVEL', { env: { LOG_LEVEL: 'debug' } }, { logLevel: 'debug' }],
    ['--log-format json', { argv: ['--log-format', 'json'] }, { logFormat: 'json' }],
    ['--store memory', { argv: ['--store', 'memory'] }, { store: 'memory' }],
    [
      '--store redis with REDIS_URL',
      { argv: ['--store', 'redis'], env: { REDIS_URL: 'rediss://app:secret@cache.internal:6380/2' } },
      { store: 'redis', redisUrl: 'rediss://app:secret@cache.internal:6380/2' },
    ],
    ['DATA_DIR, relative to the cwd', { env: { DATA_DIR: 'state' } }, { dataDir: join(cwd, 'state') }],
    ['--data-dir', { argv: ['--data-dir', '/var/lib/chat'] }, { dataDir: resolve('/var/lib/chat') }],
    ['UPSTREAM_CHECK_INTERVAL', { env: { UPSTREAM_CHECK_INTERVAL: '5m' } }, { upstreamCheckInterval: 300_000 }],
  ])('%s', (_name, sources, expected) => {
    expect(ok(sources).config).toMatchObject(expected);
  });
});

describe('precedence: flag > env > .env > default', () => {
  it.each<[string, Sources, string]>([
    ['flag over env', { argv: ['--model', 'flag'], env: { LLM_MODEL: 'env' } }, 'flag'],
    ['flag over .env', { argv: ['--model', 'flag'], dotenv: 'LLM_MODEL=dotenv\n' }, 'flag'],
    ['env over .env', { env: { LLM_MODEL: 'env' }, dotenv: 'LLM_MODEL=dotenv\n' }, 'env'],
    ['.env over default', { dotenv: '# comment\nLLM_MODEL="dotenv"\n' }, 'dotenv'],
  ])('%s', (_name, sources, model) => {
    expect(ok(sources).config.model).toBe(model);
  });

  it('applies to booleans and lists too', () => {
    expect(ok({ env: { STREAM: 'false' }, dotenv: 'STREAM=true' }).config.stream).toBe(false);
    expect(ok({ argv: ['--cors-origin', 'https://f'], env: { CORS_ORIGIN: 'https://e' } }).config.corsOrigin).toEqual([
      'https://f',
    ]);
  });

  it('lists in origins exactly the keys some source set, and which came from the .env file', () => {
    const { origins, envFile } = ok({ argv: ['--port', '9000'], env: { LLM_MODEL: 'm' }, dotenv: 'TEMPERATURE=1\n' });
    expect([...origins.keys()].sort()).toEqual(['envFile', 'model', 'port', 'temperature']);
    expect(envFile).toEqual({ path: join(cwd, '.env'), settings: ['TEMPERATURE'] });
  });
});

describe('the .env file: read only when named', () => {
  it('is named by --env-file or ENV_FILE, relative to the working directory', () => {
    const read: string[] = [];
    const readEnvFile = (path: string) => {
      read.push(path);
      return 'LLM_MODEL=from-file\n';
    };
    expect(ok({ argv: ['--env-file', 'conf/my.env'], readEnvFile }).config.model).toBe('from-file');
    expect(ok({ env: { ENV_FILE: '/etc/llm.env' }, readEnvFile }).envFile?.path).toBe(resolve('/etc/llm.env'));
    expect(read).toEqual([join(cwd, 'conf/my.env'), resolve('/etc/llm.env')]);
  });

  it('is not read at all when not named', () => {
    const loaded = ok({ readEnvFile: () => expect.unreachable('read a .env nobody named') });
    expect(loaded.envFile).toBeUndefined();
  });

  it('an unreadable named file is a one-line error naming where it was named', () => {
    const message = failure({ env: { ENV_FILE: 'gone.env' } });
    expect(message).toBe('ENV_FILE: cannot read "gone.env" (ENOENT).');
  });
});

describe('booleans from env', () => {
  it.each(['true', '1', 'yes', 'on', 'TRUE', ' On '])('%j is true', (word) => {
    expect(ok({ env: { STREAM: word } }).config.stream).toBe(true);
  });

  // .env says true so that a word ignored (rather than read as false) would show.
  it.each(['false', '0', 'no', 'off', 'OFF'])('%j is false', (word) => {
    expect(ok({ env: { STREAM: word }, dotenv: 'STREAM=true' }).config.stream).toBe(false);
  });

  it('rejects any other word, naming the variable', () => {
    const message = failure({ env: { REQUIRE_SESSION_ID: 'maybe' } });
    expect(message).toContain('REQUIRE_SESSION_ID');
    expect(message).toContain('maybe');
  });
});

describe('invalid values', () => {
  it.each<[string, Sources, string[]]>([
    ['unknown provider', { argv: ['--provider', 'azure'] }, ['--provider', 'azure']],
    ['port 70000', { argv: ['--port', '70000'] }, ['--port', '65535']],
    ['port -1 as --port=-1', { argv: ['--port=-1'] }, ['--port', '-1']],
    ['port -1 from env', { env: { PORT: '-1' } }, ['PORT', '-1']],
    ['temperature 5', { argv: ['--temperature', '5'] }, ['--temperature', '0 to 2']],
    ['malformed URL', { argv: ['--ollama-base-url', 'not a url'] }, ['--ollama-base-url', 'http']],
    ['non-http URL', { env: { OPENAI_BASE_URL: 'ftp://files.example' } }, ['OPENAI_BASE_URL']],
    ['non-numeric context window', { env: { CONTEXT_WINDOW_SIZE: 'big' } }, ['CONTEXT_WINDOW_SIZE', 'big']],
    ['bad duration', { argv: ['--approval-ttl', 'soon'] }, ['--approval-ttl', '"soon" is not a duration']],
    ['zero upstream timeout', { argv: ['--upstream-timeout', '0'] }, ['--upstream-timeout']],
    ['unknown flag', { argv: ['--bogus', 'x'] }, ['--bogus', '--help']],
    ['headers timeout above the request timeout', { argv: ['--headers-timeout', '1m'] }, ['--headers-timeout']],
    ['bad value in .env', { dotenv: 'TEMPERATURE=5\n' }, ['TEMPERATURE (in .env)']],
    ['unknown store', { argv: ['--store', 'postgres'] }, ['--store', '"redis"']],
    ['--store redis without a URL', { argv: ['--store', 'redis'] }, ['--redis-url', 'REDIS_URL']],
    ['a Redis URL of another scheme', { env: { REDIS_URL: 'http://cache:6379' } }, ['REDIS_URL', 'redis://']],
  ])('%s is a one-line error naming its origin', (_name, sources, parts) => {
    const message = failure(sources);
    expect(message).not.toContain('\n');
    for (const part of parts) expect(message).toContain(part);
  });

  it('never shows a bad value of a setting that may hold a secret (a Redis URL with its password)', () => {
    const message = failure({ argv: ['--store', 'redis', '--redis-url', 'redis//:hunter2@cache:6379'] });
    expect(message).toMatch(/^--redis-url: must be a redis:\/\/ or rediss:\/\/ URL\.$/);
  });

  it('refuses an approver token equal to the auth token, naming it but never its value', () => {
    const message = failure({ argv: ['--auth-token', 'same-secret-7e1'], env: { APPROVER_TOKEN: 'same-secret-7e1' } });
    expect(message).toBe(
      'APPROVER_TOKEN: must differ from the auth token: the approver token is what separates deciding on tool calls from chatting.',
    );
    expect(ok({ argv: ['--auth-token', 'a-token', '--approver-token', 'b-token'] }).config).toMatchObject({
      authToken: 'a-token',
      approverToken: 'b-token',
    });
  });

  it('resolves --audit-log against the given cwd', () => {
    expect(ok({ argv: ['--audit-log', 'logs/audit.jsonl'] }).config.auditLog).toBe(join(cwd, 'logs/audit.jsonl'));
  });

  it('names the env variable, not .env, when the bad value came from the environment', () => {
    const message = failure({ env: { TEMPERATURE: '5' }, dotenv: 'TEMPERATURE=1\n' });
    expect(message).toMatch(/^TEMPERATURE: /);
    expect(message).not.toContain('.env');
  });

  // Once bugs (fixed): a value after a space that starts with "-", and the .env origin of a boolean.
  it('--port -1 (value after a space) is one line naming --port', () => {
    const message = failure({ argv: ['--port', '-1'] });
    expect(message).toContain('--port');
    expect(message).not.toContain('\n');
  });

  it('a bad boolean from .env names the .env origin', () => {
    expect(failure({ dotenv: 'STREAM=maybe\n' })).toContain('STREAM (in .env)');
  });
});

it('treats an empty variable as unset, as shells and compose files write them', () => {
  const loaded = load({ env: { PORT: '', TEMPERATURE: '', LLM_API_KEY: '' } });
  if (loaded.kind !== 'config') throw new Error(`expected config, got ${loaded.kind}`);
  expect(loaded.config).toMatchObject({ port: 8000, temperature: 0.7 });
  expect(loaded.config.apiKey).toBeUndefined();
});

describe('--help', () => {
  it('lists every flag with its env name and its default', () => {
    const loaded = load({ argv: ['--help'] });
    if (loaded.kind !== 'help') throw new Error(`expected help, got ${loaded.kind}`);
    const defaults = ok().config;
    for (const [key, { flag, env }] of Object.entries(optionNames) as [ConfigKey, OptionNames][]) {
      const row = new RegExp(`--${flag}( <value>)?\\n[^\\n]*\\[env ${env}(; default ([^\\]]+))?\\]`).exec(loaded.text);
      expect(row, `--${flag}`).not.toBeNull();
      const shown = row?.[3];
      const value = defaults[key];
      if (value === undefined || key === 'currentDirectory' || (Array.isArray(value) && !value.length)) {
        expect(shown, `--${flag}`).toBeUndefined();
      } else if (shown !== String(value)) {
        expect(parseDuration(shown ?? ''), `--${flag} default ${shown}`).toBe(value); // durations: 1d, 5m...
      }
    }
    expect(loaded.text).toContain('[env LLM_MODEL; default qwen2.5-coder:latest]');
    expect(load({ argv: ['-h'] }).kind).toBe('help');
  });

  it('shows the default of every duration setting as a duration, as the README table does', () => {
    const loaded = load({ argv: ['--help'] });
    if (loaded.kind !== 'help') throw new Error(`expected help, got ${loaded.kind}`);
    const shown = Object.fromEntries(
      [...loaded.text.matchAll(/--([a-z-]+)(?: <value>)?\n[^\n]*; default ([^\]]+)\]/g)].map((row) => [row[1], row[2]]),
    );
    expect(shown).toMatchObject({
      'session-ttl': '24h',
      'approval-timeout': '300s',
      'approval-ttl': '1h',
      'resume-grace': '30s',
      'upstream-timeout': '120s',
      'headers-timeout': '10s',
      'request-timeout': '30s',
      'upstream-check-interval': '30s',
    });
    // Any setting that takes a duration: a bare number of milliseconds would read back as seconds.
    for (const [key, { flag }] of Object.entries(optionNames) as [ConfigKey, OptionNames][]) {
      if (configSchema.shape[key].safeParse('2m').data === 120_000) {
        expect(shown[flag], `--${flag}`).toMatch(/^\d+(ms|s|h)$/);
      }
    }
  });
});

describe('the real entry (src/entry/node.ts)', () => {
  let directory: string;
  beforeAll(() => {
    directory = mkdtempSync(join(tmpdir(), 'llm-chat-config-'));
  });
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  const run = (...args: string[]) =>
    spawnSync(process.execPath, [...nodeEntry, ...args], {
      cwd: directory,
      env: { PATH: process.env.PATH, HOME: directory },
      encoding: 'utf8',
      timeout: 15_000,
    });

  it('exits 2 with one stderr line naming --temperature for --temperature 5', () => {
    const { status, stderr } = run('--temperature', '5');
    expect(status).toBe(2);
    const lines = stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('--temperature');
  });

  it('refuses a non-loopback host without an auth token, naming --auth-token', () => {
    const { status, stderr } = run('--host', '0.0.0.0', '--port', '0');
    expect(status).toBe(2);
    expect(stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(stderr).toContain('--auth-token');
  });

  it('exits 2 with one line when the approver token is the auth token', () => {
    const { status, stderr } = run('--auth-token', 'same-token-2f9', '--approver-token', 'same-token-2f9');
    expect(status).toBe(2);
    expect(stderr).toBe(
      'llm-chat-server: --approver-token: must differ from the auth token: the approver token is what separates deciding on tool calls from chatting.\n',
    );
  });

  it('exits 2 with one line naming --audit-log when its file cannot be opened', () => {
    const { status, stderr } = run('--store', 'memory', '--audit-log', join(directory, 'missing', 'audit.jsonl'));
    expect(status).toBe(2);
    expect(stderr).toBe(
      `llm-chat-server: --audit-log: cannot open "${join(directory, 'missing', 'audit.jsonl')}" for appending (ENOENT).\n`,
    );
  });

  it('prints help listing --model and exits 0', () => {
    const { status, stdout } = run('--help');
    expect(status).toBe(0);
    expect(stdout).toContain('--model <value>');
    expect(stdout).toContain('[env LLM_MODEL; default qwen2.5-coder:latest]');
  });
});

describe('--no-<flag> for booleans (Node 20 has no allowNegative)', () => {
  it('metrics are on by default; --no-metrics and METRICS=false turn them off, over .env', () => {
    expect(ok({}).config.metrics).toBe(true);
    expect(ok({ argv: ['--no-metrics'], env: { METRICS: 'true' } }).config.metrics).toBe(false);
    expect(ok({ env: { METRICS: 'false' }, dotenv: 'METRICS=true' }).config.metrics).toBe(false);
    expect(ok({ argv: ['--metrics'], env: { METRICS: 'false' } }).config.metrics).toBe(true);
    expect(ok({ argv: ['--no-stream'], env: { STREAM: 'true' } }).config.stream).toBe(false);
  });

  it('trace content is off by default; --trace-content and TRACE_CONTENT=true turn it on', () => {
    expect(ok({}).config.traceContent).toBe(false);
    expect(ok({ argv: ['--trace-content'] }).config.traceContent).toBe(true);
    expect(ok({ env: { TRACE_CONTENT: 'true' } }).config.traceContent).toBe(true);
    expect(ok({ argv: ['--no-trace-content'], env: { TRACE_CONTENT: 'true' } }).config.traceContent).toBe(false);
  });

  it('refuses a flag and its negation together', () => {
    expect(failure({ argv: ['--metrics', '--no-metrics'] })).toBe(
      '--metrics and --no-metrics contradict each other; give one.',
    );
  });
});
