/** The label value of anything the configuration does not name. */
export const otherLabel = 'other';

export interface MetricLabelsOptions {
  /** The default model and the allowed models: the only model names that become labels. */
  models: readonly string[];
  /** The configured MCP servers: the only server names that become labels. */
  servers: readonly string[];
  /** The most tool names one server may have as labels; later ones are `other` (default 100). */
  maxToolsPerServer?: number;
}

export type MetricLabels = ReturnType<typeof metricLabels>;

/**
 * Bounded label values. A model name comes from a client (any model may be asked for when
 * --allowed-models is empty), a tool name from an MCP server: neither may grow the number of
 * series without bound, so names outside the configuration, and tool names past a server's cap,
 * are `other`.
 */
export function metricLabels(options: MetricLabelsOptions) {
  const models = new Set(options.models);
  const servers = new Set(options.servers);
  const maxTools = options.maxToolsPerServer ?? 100;
  const tools = new Map<string, Set<string>>();
  return {
    model: (name: string) => (models.has(name) ? name : otherLabel),
    server: (name: string) => (servers.has(name) ? name : otherLabel),
    tool(server: string, name: string): string {
      if (!servers.has(server)) return otherLabel;
      let known = tools.get(server);
      if (!known) {
        known = new Set();
        tools.set(server, known);
      }
      if (known.has(name)) return name;
      if (known.size >= maxTools) return otherLabel;
      known.add(name);
      return name;
    },
  };
}
