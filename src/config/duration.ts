const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses `300s`, `1h`, `1.5m`, `250ms` or a bare number of seconds into milliseconds.
 * Returns undefined for anything else.
 */
export function parseDuration(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!match) return undefined;
  return Math.round(Number(match[1]) * units[match[2] ?? 's']);
}

export function formatDuration(milliseconds: number): string {
  for (const unit of ['h', 's'] as const) {
    if (milliseconds >= units[unit] && milliseconds % units[unit] === 0) return `${milliseconds / units[unit]}${unit}`;
  }
  return `${milliseconds}ms`;
}
