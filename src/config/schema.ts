import { z } from 'zod';
import { webhookSecretProblem } from '../approvals/webhook-signature.js';
import { providerSchema } from '../llm/provider.js';
import { parseDuration } from './duration.js';

const duration = z.union([z.number().int().nonnegative(), z.string()]).transform((value, context) => {
  const milliseconds = typeof value === 'number' ? value : parseDuration(value);
  if (milliseconds === undefined) {
    context.addIssue({ code: 'custom', message: `"${value}" is not a duration; write e.g. 30s, 5m, 1h or 250ms` });
    return z.NEVER;
  }
  return milliseconds;
});

/** A number given as a number or as decimal text (no hex, no blanks: `--port=` is an error). */
const numeric = (pattern: RegExp, what: string) =>
  z.union([z.number(), z.string()]).transform((value, context) => {
    if (typeof value === 'number') return value;
    if (pattern.test(value)) return Number(value);
    context.addIssue({ code: 'custom', message: `must be ${what}` });
    return z.NEVER;
  });
const wholeNumber = numeric(/^-?\d+$/, 'a whole number');
const positiveWholeNumber = wholeNumber.pipe(z.number().int().positive('must be a whole number above 0'));
const countOrZero = wholeNumber.pipe(z.number().int().nonnegative('must be a whole number, 0 or more'));
const decimalNumber = numeric(/^-?(\d+(\.\d*)?|\.\d+)$/, 'a number');

const url = z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' });
const list = z.array(z.string().min(1)).default([]);

/**
 * Every setting of the server, with its default: the one home of defaults. Values arrive as
 * strings (from flags, env or .env) or typed (from tests); durations are held in milliseconds.
 */
export const configSchema = z
  .object({
    apiKey: z.string().min(1).optional().describe('API key sent to the LLM as a bearer token'),
    model: z.string().min(1).default('qwen2.5-coder:latest').describe('model for new sessions'),
    port: wholeNumber
      .pipe(z.number().min(0, 'must be a port from 0 to 65535').max(65535, 'must be a port from 0 to 65535'))
      .default(8000)
      .describe('port to listen on (0: any free port)'),
    host: z.string().min(1).default('127.0.0.1').describe('address to bind'),
    provider: providerSchema.default('ollama').describe('LLM provider for new sessions'),
    openaiBaseUrl: url.default('https://openrouter.ai/api/v1').describe('base URL of the OpenAI-compatible API'),
    ollamaBaseUrl: url.default('http://localhost:11434').describe('base URL of Ollama'),
    serversConfig: z
      .string()
      .min(1)
      .optional()
      .describe("MCP servers file (mcpServers format; default: the package's own config/servers.json)"),
    envFile: z
      .string()
      .min(1)
      .optional()
      .describe('.env file to read settings from (none unless named: not even ./.env)'),
    currentDirectory: z
      .string()
      .min(1)
      .optional()
      .describe("working directory of new sessions (default: the process's)"),
    contextWindowSize: wholeNumber
      .pipe(z.number().positive('must be a whole number above 0'))
      .default(8192)
      .describe('context window in tokens'),
    maxContextWindowSize: positiveWholeNumber
      .optional()
      .describe('largest context_window_size a session may ask for (default: any)'),
    allowedModels: list.describe('models a session may ask for besides --model (repeatable; default: any)'),
    temperature: decimalNumber
      .pipe(z.number().min(0, 'must be from 0 to 2').max(2, 'must be from 0 to 2'))
      .default(0.7)
      .describe('sampling temperature'),
    stream: z.boolean().default(false).describe('stream answers as Server-Sent Events by default'),
    authToken: z
      .string()
      .min(1)
      .optional()
      .describe('bearer token every route but /health requires (required off loopback)'),
    approverToken: z
      .string()
      .min(1)
      .optional()
      .describe(
        'bearer token of the approvers: when set, only it may decide tool calls (POST /approve) and read GET /approvals and GET /audit',
      ),
    systemPrompt: z.string().optional().describe('system prompt for new sessions (default: built in)'),
    allowDirectory: list.describe('more roots a session directory may lie in (repeatable)'),
    requireSessionId: z.boolean().default(false).describe('no default-session fallback'),
    sessionTtl: duration
      .pipe(z.number().positive('must be above 0'))
      .default(24 * 3_600_000)
      .describe('idle session expiry'),
    maxSessions: positiveWholeNumber
      .default(10_000)
      .describe('sessions kept at once; a new one is refused (503) until one expires'),
    sessionsPerMinute: countOrZero.default(30).describe('sessions one client address may start a minute (0: no limit)'),
    maxInputChars: positiveWholeNumber.default(100_000).describe('longest input'),
    maxBodyBytes: positiveWholeNumber.default(1_048_576).describe('largest request body in bytes'),
    approvalTimeout: duration.default(300_000).describe('how long an open stream waits for decisions'),
    approvalTtl: duration
      .pipe(z.number().positive('must be above 0'))
      .default(3_600_000)
      .describe('when a pending approval expires'),
    resumeGrace: duration.default(30_000).describe('how long a turn outlives its last client'),
    maxFollowers: positiveWholeNumber.default(16).describe("streams that may follow one session's turn at once"),
    maxStreamBufferBytes: positiveWholeNumber
      .default(1_048_576)
      .describe('unsent bytes a stream may hold before it is dropped (the client resumes with Last-Event-ID)'),
    autoApproveReadOnly: z.boolean().default(false).describe('trust MCP readOnlyHint annotations'),
    approvalWebhook: url
      .optional()
      .describe('URL that gets a signed POST (Standard Webhooks) for every new pending approval'),
    approvalWebhookSecret: z
      .string()
      .superRefine((value, context) => {
        const problem = webhookSecretProblem(value);
        if (problem) context.addIssue({ code: 'custom', message: problem });
      })
      .optional()
      .describe('signing secret of --approval-webhook: whsec_ and base64 of 24 or more random bytes'),
    auditLog: z
      .string()
      .min(1)
      .optional()
      .describe('JSON-lines file every approval decision is appended to (created with mode 0600; Node and Bun)'),
    publicUrl: url
      .optional()
      .describe("the server's address as people open it, for links to the page (default: the address it listens on)"),
    maxToolRounds: positiveWholeNumber.default(25).describe('model calls that request tools, per turn'),
    maxMcpConnections: positiveWholeNumber
      .default(64)
      .describe('MCP server connections open at once, over all servers and directories'),
    maxHistoryChars: positiveWholeNumber
      .default(2_000_000)
      .describe('characters of history a session keeps; its oldest exchanges are dropped past that'),
    maxToolResultChars: positiveWholeNumber.default(32_000).describe('longer tool results are truncated'),
    upstreamTimeout: duration
      .pipe(z.number().positive('must be above 0'))
      .default(120_000)
      .describe('no byte from the LLM for this long is an error'),
    headersTimeout: duration
      .default(10_000)
      .describe('how long a client may take to send its request headers (0: no limit)'),
    requestTimeout: duration
      .default(30_000)
      .describe('how long a client may take to send its whole request (0: no limit; responses are not limited)'),
    allowedHosts: list.describe('Host values accepted besides loopback names (repeatable)'),
    corsOrigin: list.describe('origins allowed to call from a browser (repeatable)'),
    store: z
      .enum(['sqlite', 'memory', 'redis'], { error: 'must be "sqlite", "memory" or "redis"' })
      .default('sqlite')
      .describe(
        'session store: sqlite (in --data-dir; survives restarts), redis (at --redis-url) or memory (lost on exit)',
      ),
    dataDir: z
      .string()
      .min(1)
      .optional()
      .describe(
        'directory of the session database (--store sqlite; default: $XDG_DATA_HOME/llm-chat-server, else ~/.local/share/llm-chat-server)',
      ),
    redisUrl: z
      .url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL' })
      .optional()
      .describe('Redis server of the sessions (--store redis): redis://[user:password@]host[:port][/database]'),
    logLevel: z.enum(['debug', 'info', 'warn', 'error']).default('info').describe('debug, info, warn or error'),
    logFormat: z
      .enum(['text', 'json'], { error: 'must be "text" or "json"' })
      .default('text')
      .describe('log lines as text, or as one JSON object each'),
    metrics: z
      .boolean()
      .default(true)
      .describe('serve Prometheus metrics at GET /metrics (Node and Bun; --no-metrics: off)'),
    traceContent: z
      .boolean()
      .default(false)
      .describe('record prompts, answers, tool arguments and results in trace spans (GenAI attributes)'),
    upstreamCheckInterval: duration
      .pipe(z.number().positive('must be above 0'))
      .default(30_000)
      .describe("how old /health's view of the LLM may get before it is checked again (in the background)"),
  })
  .superRefine((config, context) => {
    if (config.maxContextWindowSize !== undefined && config.contextWindowSize > config.maxContextWindowSize) {
      context.addIssue({
        code: 'custom',
        path: ['contextWindowSize'],
        message: `must not be above the max context window size (${config.maxContextWindowSize})`,
      });
    }
    if (config.store === 'redis' && config.redisUrl === undefined) {
      context.addIssue({
        code: 'custom',
        path: ['redisUrl'],
        message: 'must be set with --store redis (or REDIS_URL)',
      });
    }
    if (config.headersTimeout > 0 && config.requestTimeout > 0 && config.headersTimeout > config.requestTimeout) {
      context.addIssue({ code: 'custom', path: ['headersTimeout'], message: 'must not be above the request timeout' });
    }
    if (config.approverToken !== undefined && config.approverToken === config.authToken) {
      context.addIssue({
        code: 'custom',
        path: ['approverToken'],
        message:
          'must differ from the auth token: the approver token is what separates deciding on tool calls from chatting',
      });
    }
    if (config.approvalWebhook !== undefined && config.approvalWebhookSecret === undefined) {
      context.addIssue({
        code: 'custom',
        path: ['approvalWebhookSecret'],
        message:
          'is required with the approval webhook (Standard Webhooks messages are signed): make one with `openssl rand -base64 32` and put whsec_ before it',
      });
    }
    if (config.approvalWebhook !== undefined && config.publicUrl === undefined && isWildcardAddress(config.host)) {
      context.addIssue({
        code: 'custom',
        path: ['publicUrl'],
        message: `is required with the approval webhook when the server listens on every address (${config.host}): links to the page need an address people can open`,
      });
    }
  });

/** A bind address that means every interface, which is no address to link to. */
const isWildcardAddress = (host: string) => ['0.0.0.0', '::', '[::]', '0:0:0:0:0:0:0:0'].includes(host);

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type ConfigKey = keyof Config;

/** Where a setting comes from besides its key: its CLI flag and env variable. */
export interface OptionNames {
  flag: string;
  env: string;
}

const originalEnvNames: Partial<Record<ConfigKey, string>> = {
  apiKey: 'LLM_API_KEY',
  model: 'LLM_MODEL',
  provider: 'LLM_PROVIDER',
};

const kebab = (key: string) => key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);

export const optionNames = Object.fromEntries(
  (Object.keys(configSchema.shape) as ConfigKey[]).map((key) => {
    const flag = kebab(key);
    const env = originalEnvNames[key] ?? flag.replace(/-/g, '_').toUpperCase();
    return [key, { flag, env }];
  }),
) as Record<ConfigKey, OptionNames>;

export const booleanKeys = new Set<ConfigKey>([
  'stream',
  'requireSessionId',
  'autoApproveReadOnly',
  'metrics',
  'traceContent',
]);
/** Settings that may hold a secret: an error about one never shows its value. */
export const secretKeys = new Set<ConfigKey>([
  'apiKey',
  'authToken',
  'approverToken',
  'approvalWebhookSecret',
  'redisUrl',
]);
export const listKeys = new Set<ConfigKey>(['allowDirectory', 'allowedModels', 'allowedHosts', 'corsOrigin']);
