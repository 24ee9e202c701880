import { booleanKeys, type Config, type ConfigKey, configSchema, listKeys, optionNames, secretKeys } from './schema.js';

/** One place settings come from (flags, the environment, a .env file, Worker vars). */
export interface ConfigSource {
  /** The value of `key` here, or undefined. Text is parsed for boolean and list settings. */
  get(key: ConfigKey): string | boolean | string[] | undefined;
  /** How a person names `key` here, for error messages: `--port`, `PORT`, `PORT (in .env)`. */
  where(key: ConfigKey): string;
}

export type ResolvedConfig =
  /** `origins`: the source each setting that was set came from (defaults are absent). */
  | { kind: 'config'; config: Config; origins: ReadonlyMap<ConfigKey, ConfigSource> }
  | { kind: 'error'; message: string };

const keys = Object.keys(configSchema.shape) as ConfigKey[];
const truthy = new Set(['1', 'true', 'yes', 'on']);
const falsy = new Set(['0', 'false', 'no', 'off']);

/** Environment variables (or Worker vars) by their names in API.md. An empty one counts as unset. */
export function environmentSource(variables: Record<string, unknown>, label = ''): ConfigSource {
  return {
    get(key) {
      const value = variables[optionNames[key].env];
      return typeof value === 'string' && value !== '' ? value : undefined;
    },
    where: (key) => `${optionNames[key].env}${label}`,
  };
}

/**
 * The configuration from `sources`, the first that has a setting winning, defaults from the schema.
 * Runtime-neutral: the Node and Bun entries add flags and `.env`, the Worker passes its vars.
 */
export function resolveConfig(sources: ConfigSource[]): ResolvedConfig {
  const raw: Record<string, unknown> = {};
  const origins = new Map<ConfigKey, ConfigSource>();
  for (const key of keys) {
    const source = sources.find((candidate) => candidate.get(key) !== undefined);
    if (!source) continue;
    let value = source.get(key);
    const where = source.where(key);
    origins.set(key, source);
    if (typeof value === 'string' && booleanKeys.has(key)) {
      const word = value.trim().toLowerCase();
      if (!truthy.has(word) && !falsy.has(word)) {
        return { kind: 'error', message: `${where}: "${value}" is not a boolean; use true or false.` };
      }
      value = truthy.has(word);
    } else if (typeof value === 'string' && listKeys.has(key)) {
      value = value
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean);
    }
    raw[key] = value;
  }
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    const key = issue.path[0] as ConfigKey;
    const where = origins.get(key)?.where(key) ?? `--${optionNames[key].flag}`;
    const got = raw[key] === undefined || secretKeys.has(key) ? '' : ` (got ${JSON.stringify(raw[key])})`;
    return { kind: 'error', message: `${where}: ${issue.message}${got}.` };
  }
  return { kind: 'config', config: result.data, origins };
}
