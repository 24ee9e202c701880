/**
 * The names the model is offered for `tools` (in order), never two alike: a name only one tool has
 * stays as it is; a name several servers share becomes `server__name`, with `_2`, `_3`… appended
 * when that is taken too (by a server's own name, or another prefixed one).
 */
export function offeredToolNames(tools: ReadonlyArray<{ server: string; name: string }>): string[] {
  const counts = new Map<string, number>();
  for (const { name } of tools) counts.set(name, (counts.get(name) ?? 0) + 1);
  const shared = (name: string) => (counts.get(name) ?? 0) > 1;
  const taken = new Set(tools.filter(({ name }) => !shared(name)).map(({ name }) => name));
  return tools.map(({ server, name }) => {
    if (!shared(name)) return name;
    const prefixed = `${server}__${name}`;
    let offered = prefixed;
    for (let suffix = 2; taken.has(offered); suffix++) offered = `${prefixed}_${suffix}`;
    taken.add(offered);
    return offered;
  });
}
