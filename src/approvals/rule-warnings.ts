import type { ServersConfig } from '../tools/servers-config.js';
import type { ServerStatus, ToolInfo } from '../tools/tool-provider.js';
import { describeRule } from './argument-rules.js';
import { loadGlobMatcher, namesTool } from './match-rules.js';

const argumentNames = (tool: ToolInfo): string[] | undefined => {
  const properties = tool.inputSchema.properties;
  return properties && typeof properties === 'object' ? Object.keys(properties) : undefined;
};

/**
 * A warning for each rule of a connected server that can never apply: its tool glob matches no
 * tool the server offers, or no tool it matches takes one of its arguments (a typo in a `deny`
 * rule would otherwise pass unseen). `tools`: a listing; servers not `connected` in `statuses`
 * are left out, since their tools are unknown.
 */
export async function ruleWarnings(
  servers: ServersConfig,
  tools: readonly ToolInfo[],
  statuses: Record<string, ServerStatus>,
): Promise<string[]> {
  if (Object.values(servers).every((config) => config.rules.length === 0)) return [];
  const globMatches = await loadGlobMatcher();
  return Object.entries(servers).flatMap(([server, config]) => {
    if (config.rules.length === 0 || statuses[server] !== 'connected') return [];
    const offered = tools.filter((tool) => tool.server === server);
    return config.rules.flatMap((rule, index) => {
      const named = describeRule(server, { index, rule });
      const matched = offered.filter((tool) => namesTool(globMatches, rule.tool, tool.serverToolName));
      if (matched.length === 0) {
        const names = offered.map((tool) => tool.serverToolName).join(', ') || 'none';
        return [`${named} names no tool the server offers, so it never applies (its tools: ${names})`];
      }
      const unknown = Object.keys(rule.arguments).filter((name) =>
        matched.every((tool) => argumentNames(tool)?.includes(name) === false),
      );
      return unknown.map((name) => {
        const taken = matched.map((tool) => `${tool.serverToolName}: ${argumentNames(tool)?.join(', ') || 'none'}`);
        return `${named} has argument "${name}", which no tool it names takes, so it never applies (arguments: ${taken.join('; ')})`;
      });
    });
  });
}
