export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** `text`: `<time> <LEVEL> <message> <fields as JSON>`; `json`: one object `{ time, level, message, ...fields }`. */
export type LogFormat = 'text' | 'json';

/** Where the server's log lines go. Lines never carry API keys, auth tokens or MCP env values. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/**
 * A function replacing each of `secrets` in a text by `[redacted]`, as written and as written inside
 * a JSON string (quotes and backslashes escaped), longest first so no part of one is left.
 */
export function createRedactor(secrets: readonly string[]): (text: string) => string {
  const forms = [...new Set(secrets.flatMap((secret) => [secret, JSON.stringify(secret).slice(1, -1)]))]
    .filter((form) => form.length > 0)
    .sort((first, second) => second.length - first.length);
  return (text) => forms.reduce((redacted, form) => redacted.replaceAll(form, '[redacted]'), text);
}

/**
 * A logger writing one line per entry to `write`. `secrets` are replaced by `[redacted]` in every
 * line as a last line of defence; the code should not log them in the first place.
 */
export function createLogger(options: {
  level: LogLevel;
  write: (line: string) => void;
  secrets?: string[];
  format?: LogFormat;
}): Logger {
  const redact = createRedactor(options.secrets ?? []);
  const log = (level: LogLevel) => (message: string, fields?: Record<string, unknown>) => {
    if (rank[level] < rank[options.level]) return;
    const time = new Date().toISOString();
    if (options.format === 'json') {
      options.write(redact(JSON.stringify({ time, level, message, ...fields })));
      return;
    }
    let line = `${time} ${level.toUpperCase()} ${message}`;
    if (fields && Object.keys(fields).length > 0) line += ` ${JSON.stringify(fields)}`;
    options.write(redact(line));
  };
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
