import { resolve } from 'node:path';
import { parseArgs, parseEnv } from 'node:util';
import { formatDuration } from '../config/duration.js';
import { type ConfigSource, environmentSource, resolveConfig } from '../config/resolve-config.js';
import { booleanKeys, type Config, type ConfigKey, configSchema, listKeys, optionNames } from '../config/schema.js';

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

  const flags: ConfigSource = {
    get: (key) => parsed.values[optionNames[key].flag] as string | boolean | string[] | undefined,
    where: (key) => `--${optionNames[key].flag}`,
  };
  const dotenv = sources.dotenv ? parseEnv(sources.dotenv) : {};
  const result = resolveConfig([flags, environmentSource(sources.env), environmentSource(dotenv, ' (in .env)')]);
  if (result.kind === 'error') return result;
  const { config, explicit } = result;
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
