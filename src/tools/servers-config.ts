import { z } from 'zod';
import { ruleInputSchema } from '../approvals/argument-rules.js';

const names = z.array(z.string());

const serverSchema = z
  .object({
    /** stdio transport: the program to start (Node and Bun only). */
    command: z.string().min(1).optional(),
    args: z.array(z.string()).default([]),
    env: z.record(z.string(), z.string()).default({}),
    /** Streamable HTTP transport, falling back to SSE. */
    url: z.string().min(1).optional(),
    headers: z.record(z.string(), z.string()).default({}),
    /** Tools that run without asking. `alwaysAllow` is Cline's and Roo's name for it. */
    autoApprove: names.default([]),
    alwaysAllow: names.default([]),
    /** Tools refused without asking. */
    deny: names.default([]),
    /**
     * Ordered rules on a tool and its arguments, each deciding `allow`, `ask` or `deny` (see
     * `decide` for how they combine with the lists above).
     */
    rules: z.array(ruleInputSchema).default([]),
    /** When set, only these tools are offered to the model. */
    allowedTools: names.optional(),
    /** Tools never offered to the model. */
    excludedTools: names.default([]),
    disabled: z.boolean().default(false),
    /** Per-call timeout in seconds (as Cline writes it); default 60. */
    timeout: z.number().positive().optional(),
  })
  .refine((server) => Boolean(server.command) !== Boolean(server.url), {
    message: 'give either "command" (stdio) or "url" (HTTP), not both and not neither',
  });

export const serversFileSchema = z.object({ mcpServers: z.record(z.string(), serverSchema).default({}) });

export type ServerConfig = z.infer<typeof serverSchema>;
export type ServersConfig = Record<string, ServerConfig>;

/** Parses servers.json text; throws an Error whose message names the server and the field. */
export function parseServersConfig(text: string, source: string): ServersConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`${source}: not valid JSON (${(error as Error).message})`);
  }
  const result = serversFileSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    const [, server, field, index] = issue.path;
    if (field === 'rules' && typeof index === 'number') {
      const rule = JSON.stringify(
        (json as { mcpServers: Record<string, { rules: unknown[] }> }).mcpServers[server as string].rules[index],
      );
      const where = issue.path.slice(4).join('.');
      throw new Error(
        `${source}: mcpServers.${String(server)}.rules[${index}] ${rule.length > 200 ? `${rule.slice(0, 200)}…` : rule}: ${where ? `${where}: ` : ''}${issue.message}`,
      );
    }
    const path = issue.path.join('.');
    throw new Error(`${source}: ${path ? `${path}: ` : ''}${issue.message}`);
  }
  return result.data.mcpServers;
}

/**
 * Replaces `${CURRENT_DIRECTORY}` and `${NAME}` (from `variables`) in a value. An unknown name
 * becomes the empty string, as shells do.
 */
export function substitute(value: string, variables: Record<string, string | undefined>): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) =>
    Object.hasOwn(variables, name) ? (variables[name] ?? '') : '',
  );
}

const substituteAll = (record: Record<string, string>, variables: Record<string, string | undefined>) =>
  Object.fromEntries(Object.entries(record).map(([key, value]) => [key, substitute(value, variables)]));

/** The server's settings with every substitution made for one working directory. */
export function resolveServer(server: ServerConfig, variables: Record<string, string | undefined>): ServerConfig {
  return {
    ...server,
    command: server.command && substitute(server.command, variables),
    args: server.args.map((arg) => substitute(arg, variables)),
    env: substituteAll(server.env, variables),
    url: server.url && substitute(server.url, variables),
    headers: substituteAll(server.headers, variables),
  };
}

/** What the configuration says of one of the server's tools, before any session grant. */
export function configuredRule(server: ServerConfig, tool: string): 'allow' | 'deny' | 'ask' {
  if (server.deny.includes(tool)) return 'deny';
  if (server.autoApprove.includes(tool) || server.alwaysAllow.includes(tool)) return 'allow';
  return 'ask';
}

/** Whether the tool is offered to the model at all. */
export function isOffered(server: ServerConfig, tool: string): boolean {
  if (server.allowedTools && !server.allowedTools.includes(tool)) return false;
  return !server.excludedTools.includes(tool);
}

/**
 * The values of every server's `env` and `headers` once substituted: secrets as far as logs are
 * concerned (a server's stderr may print them).
 */
export function serverSecrets(servers: ServersConfig, variables: Record<string, string | undefined>): string[] {
  return Object.values(servers).flatMap((server) => {
    const resolved = resolveServer(server, variables);
    return [...Object.values(resolved.env), ...Object.values(resolved.headers)].filter((value) => value.length >= 4);
  });
}
