import { resolve } from 'node:path';
import { parseArgs, parseEnv } from 'node:util';
import { formatDuration } from '../config/duration.js';
import { type ConfigSource, environmentSource, resolveConfig } from '../config/resolve-config.js';
import { booleanKeys, type Config, type ConfigKey, configSchema, listKeys, optionNames } from '../config/schema.js';

export interface ConfigSources {
  argv: string[];
  env: Record<string, string | undefined>;
  cwd: string;
  /** Reads the `.env` file that `--env-file` or `ENV_FILE` names (absolute path); throws when it cannot. */
  readEnvFile: (path: string) => string;
}

/** The `.env` file a configuration was read from, and the settings (by env name) that came from it. */
export interface LoadedEnvFile {
  path: string;
  settings: string[];
}

export type LoadedConfig =
  | { kind: 'config'; config: Config; origins: ReadonlyMap<ConfigKey, ConfigSource>; envFile?: LoadedEnvFile }
  | { kind: 'help'; text: string }
  | { kind: 'error'; message: string };

const keys = Object.keys(configSchema.shape) as ConfigKey[];

/**
 * Reads the configuration with the precedence CLI flag > environment variable > the `.env` file
 * named by `--env-file` (or `ENV_FILE`) > default. No `.env` is read unless named: the working
 * directory is often a cloned repository, and its files must not configure the server.
 * Pure but for `readEnvFile`, which the entry passes in.
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
        // `--no-metrics` and the like: a boolean flag's `false` (Node 20's parseArgs has no allowNegative).
        ...Object.fromEntries(
          [...booleanKeys].map((key) => [`no-${optionNames[key].flag}`, { type: 'boolean' } as const]),
        ),
      },
    });
  } catch (error) {
    const message = (error as Error).message.split('\n').join(' ').replace(/\.+$/, '');
    return { kind: 'error', message: `${message}. Run with --help to list the flags.` };
  }
  if (parsed.values.help) return { kind: 'help', text: helpText() };

  const contradicted = [...booleanKeys].find(
    (key) => parsed.values[optionNames[key].flag] && parsed.values[`no-${optionNames[key].flag}`],
  );
  if (contradicted) {
    const flag = optionNames[contradicted].flag;
    return { kind: 'error', message: `--${flag} and --no-${flag} contradict each other; give one.` };
  }
  const flags: ConfigSource = {
    get: (key) =>
      parsed.values[`no-${optionNames[key].flag}`] && booleanKeys.has(key)
        ? false
        : (parsed.values[optionNames[key].flag] as string | boolean | string[] | undefined),
    where: (key) => `--${optionNames[key].flag}`,
  };
  const environment = environmentSource(sources.env);
  const named = [flags, environment].find((source) => source.get('envFile') !== undefined);
  const envFile = named && readEnvFile(named, sources);
  if (envFile?.kind === 'error') return envFile;
  const result = resolveConfig(envFile ? [flags, environment, envFile.source] : [flags, environment]);
  if (result.kind === 'error') return result;
  const { config, origins } = result;
  config.currentDirectory = resolve(sources.cwd, config.currentDirectory ?? '.');
  if (config.dataDir !== undefined) config.dataDir = resolve(sources.cwd, config.dataDir);
  if (config.auditLog !== undefined) config.auditLog = resolve(sources.cwd, config.auditLog);
  if (!envFile) return { kind: 'config', config, origins };
  const settings = [...origins].filter(([, source]) => source === envFile.source).map(([key]) => optionNames[key].env);
  return { kind: 'config', config, origins, envFile: { path: envFile.path, settings } };
}

function readEnvFile(named: ConfigSource, sources: ConfigSources) {
  const name = String(named.get('envFile'));
  const path = resolve(sources.cwd, name);
  try {
    const source = environmentSource(parseEnv(sources.readEnvFile(path)), ` (in ${name})`);
    return { kind: 'file' as const, path, source };
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    return { kind: 'error' as const, message: `${named.where('envFile')}: cannot read "${name}" (${reason}).` };
  }
}

/** A duration setting is one that reads `2m` as two minutes (in milliseconds), whatever its name. */
const isDuration = (key: ConfigKey) => configSchema.shape[key].safeParse('2m').data === 120_000;

export function helpText(): string {
  const rows = keys.map((key) => {
    const schema = configSchema.shape[key];
    const fallback = schema.safeParse(undefined);
    let shown = '';
    if (fallback.success && fallback.data !== undefined && !(Array.isArray(fallback.data) && !fallback.data.length)) {
      const value = fallback.data;
      shown = isDuration(key) ? formatDuration(value as number) : String(value);
    }
    const { flag, env } = optionNames[key];
    const argument = booleanKeys.has(key) ? '' : ' <value>';
    return `  --${flag}${argument}\n      ${schema.description ?? ''} [env ${env}${shown ? `; default ${shown}` : ''}]`;
  });
  return [
    'Usage: llm-chat-server [flags]',
    '',
    'Precedence: flag > environment variable > the --env-file file > default.',
    'No .env file is read unless --env-file (or ENV_FILE) names it.',
    '',
    ...rows,
    '  --help',
    '      show this help',
  ].join('\n');
}
