import { resolve } from 'node:path';
import { parseArgs, parseEnv } from 'node:util';
import { formatDuration } from './duration.js';
import { booleanKeys, type Config, type ConfigKey, configSchema, listKeys, optionNames } from './schema.js';

export interface ConfigSources {
  argv: string[];
  env: Record<string, string | undefined>;
  /** Text of the `.env` file in the working directory, if there is one. */
  dotenv?: string;
  cwd: string;
}

export type LoadedConfig =
  | { kind: 'config'; config: Config; explicit: ReadonlySet<ConfigKey> }
  | { kind: 'help'; text: string }
  | { kind: 'error'; message: string };

const keys = Object.keys(configSchema.shape) as ConfigKey[];
const truthy = new Set(['1', 'true', 'yes', 'on']);
const falsy = new Set(['0', 'false', 'no', 'off']);

/**
 * Reads the configuration with the precedence CLI flag > environment variable > `.env` > default.
 * Pure: the Node entry passes in argv, env and the `.env` text.
 */
export function loadConfig(sources: ConfigSources): LoadedConfig {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: sources.argv,
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: 'boolean', short: 'h' },
        ...Object.fromEntries(
          keys.map((key) => [
            optionNames[key].flag,
            { type: booleanKeys.has(key) ? 'boolean' : 'string', multiple: listKeys.has(key) } as const,
          ]),
        ),
      },
    });
  } catch (error) {
    const message = (error as Error).message.split('\n').join(' ').replace(/\.+$/, '');
    return { kind: 'error', message: `${message}. Run with --help to list the flags.` };
  }
  if (parsed.values.help) return { kind: 'help', text: helpText() };

  const dotenv = sources.dotenv ? parseEnv(sources.dotenv) : {};
  const raw: Record<string, unknown> = {};
  const origin = new Map<ConfigKey, string>();
  const explicit = new Set<ConfigKey>();
  for (const key of keys) {
    const { flag, env } = optionNames[key];
    const fromFlag = parsed.values[flag];
    if (fromFlag !== undefined) {
      raw[key] = fromFlag;
      origin.set(key, `--${flag}`);
    } else {
      // An empty variable (`PORT=`) counts as unset, as shells and compose files write them.
      const fromEnv = sources.env[env] || dotenv[env] || undefined;
      if (fromEnv === undefined) continue;
      const where = sources.env[env] ? env : `${env} (in .env)`;
      origin.set(key, where);
      if (booleanKeys.has(key)) {
        const word = fromEnv.trim().toLowerCase();
        if (!truthy.has(word) && !falsy.has(word)) {
          return { kind: 'error', message: `${where}: "${fromEnv}" is not a boolean; use true or false.` };
        }
        raw[key] = truthy.has(word);
      } else if (listKeys.has(key)) {
        raw[key] = fromEnv
          .split(',')
          .map((item) => item.trim())
          .filter(Boolean);
      } else {
        raw[key] = fromEnv;
      }
    }
    explicit.add(key);
  }

  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    const key = issue.path[0] as ConfigKey;
    const where = origin.get(key) ?? `--${optionNames[key].flag}`;
    return { kind: 'error', message: `${where}: ${issue.message} (got ${JSON.stringify(raw[key])}).` };
  }
  const config = result.data;
  config.currentDirectory = resolve(sources.cwd, config.currentDirectory ?? '.');
  return { kind: 'config', config, explicit };
}

export function helpText(): string {
  const rows = keys.map((key) => {
    const schema = configSchema.shape[key];
    const fallback = schema.safeParse(undefined);
    let shown = '';
    if (fallback.success && fallback.data !== undefined && !(Array.isArray(fallback.data) && !fallback.data.length)) {
      const value = fallback.data;
      shown =
        key.endsWith('Timeout') || key.endsWith('Ttl') || key === 'resumeGrace'
          ? formatDuration(value as number)
          : String(value);
    }
    const { flag, env } = optionNames[key];
    const argument = booleanKeys.has(key) ? '' : ' <value>';
    return `  --${flag}${argument}\n      ${schema.description ?? ''} [env ${env}${shown ? `; default ${shown}` : ''}]`;
  });
  return [
    'Usage: llm-chat-server [flags]',
    '',
    'Precedence: flag > environment variable > .env file > default.',
    '',
    ...rows,
    '  --help',
    '      show this help',
  ].join('\n');
}
