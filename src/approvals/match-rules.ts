import { lazy } from '../lazy.js';
import type { LocatedPath } from '../sessions/directory-guard.js';
import type { ArgumentRule, IndexedRule } from './argument-rules.js';

// Dotfiles match `*` and `**` (a deny of `**/.env` must see `.git/.env`); `#` is a character, not a
// comment; paths are `/`-separated on every platform ('linux': any platform but win32).
const globOptions = { dot: true, nocomment: true, platform: 'linux' } as const;

/** Whether `text` matches the glob `pattern`; the glob library is loaded on first use (no rules, no cost). */
export const loadGlobMatcher = lazy(async () => {
  const { minimatch } = await import('minimatch');
  return (text: string, pattern: string) => minimatch(text, pattern, globOptions);
});

/** Whether a rule's `tool` glob names the tool; `*` names every tool, even one whose name holds a `/`. */
export const namesTool = (matches: (text: string, pattern: string) => boolean, glob: string, serverToolName: string) =>
  glob === '*' || matches(serverToolName, glob);

/** The server's rules whose `tool` glob matches its tool `serverToolName`, in their order. */
export async function rulesOfTool(rules: readonly ArgumentRule[], serverToolName: string): Promise<IndexedRule[]> {
  if (rules.length === 0) return [];
  const matches = await loadGlobMatcher();
  return rules.flatMap((rule, index) => (namesTool(matches, rule.tool, serverToolName) ? [{ index, rule }] : []));
}

const pathNames = /^(?:path|paths|source|destination|file|files|filename|directory|dir|root|cwd)$/i;
const pathSuffixes = /(?:[_-](?:path|file|dir|directory)s?|[a-z0-9](?:Path|File|Dir|Directory)s?)$/;

/**
 * Whether an argument names a file or directory, by its name: `path`, `paths`, `source`,
 * `destination`, `file`, `files`, `filename`, `directory`, `dir`, `root`, `cwd`, or a name ending in
 * `_path`, `_file`, `_dir`, `_directory` (or `Path`, `File`, `Dir`, `Directory`).
 */
export const isPathArgument = (name: string) => pathNames.test(name) || pathSuffixes.test(name);

/** One text an argument gives to match; `outside`: a path outside the session's directory (or unknowable). */
interface Candidate {
  text: string;
  outside: boolean;
}

const asText = (value: unknown) =>
  typeof value === 'string'
    ? value
    : typeof value === 'number' || typeof value === 'boolean'
      ? String(value)
      : (JSON.stringify(value) ?? '');

async function pathCandidate(value: unknown, locate: (path: string) => Promise<LocatedPath>): Promise<Candidate> {
  if (typeof value !== 'string') return { text: asText(value), outside: true };
  // `~` is the home directory to many servers, and no part of the session's directory.
  if (value.startsWith('~')) return { text: value, outside: true };
  let path = value;
  if (value.startsWith('file:')) {
    try {
      path = decodeURIComponent(new URL(value).pathname);
    } catch {
      return { text: value, outside: true };
    }
  }
  const located = await locate(path);
  return { text: located.path, outside: !located.inside };
}

/** The texts an argument's value is matched as: each element of an array, a path where it lies. */
async function candidates(
  name: string,
  value: unknown,
  locate: (path: string) => Promise<LocatedPath>,
): Promise<Candidate[]> {
  const values = Array.isArray(value) ? value : [value];
  if (!isPathArgument(name)) return values.map((each) => ({ text: asText(each), outside: false }));
  return Promise.all(values.map((each) => pathCandidate(each, locate)));
}

/**
 * The rules of `rules` whose argument globs all match the call's `args`, in their order. An
 * argument the call does not give matches nothing. An array matches an `allow` rule when every
 * element matches, an `ask` or `deny` rule when any does. A path argument is matched relative to
 * the session's directory (`docs/a.md`) when it lies inside it, as its absolute real path when it
 * does not, and then never by an `allow` rule.
 */
export async function matchRules(
  rules: readonly IndexedRule[],
  args: Record<string, unknown>,
  locate: (path: string) => Promise<LocatedPath>,
): Promise<IndexedRule[]> {
  const globMatches = await loadGlobMatcher();
  const seen = new Map<string, Promise<Candidate[]>>();
  const of = (name: string) => {
    let found = seen.get(name);
    if (!found) {
      found = candidates(name, args[name], locate);
      seen.set(name, found);
    }
    return found;
  };
  const matched: IndexedRule[] = [];
  for (const indexed of rules) {
    let applies = true;
    for (const [name, pattern] of Object.entries(indexed.rule.arguments)) {
      const texts = Object.hasOwn(args, name) ? await of(name) : [];
      const matches = (candidate: Candidate) =>
        !(candidate.outside && indexed.rule.decision === 'allow') && globMatches(candidate.text, pattern);
      applies = texts.length > 0 && (indexed.rule.decision === 'allow' ? texts.every(matches) : texts.some(matches));
      if (!applies) break;
    }
    if (applies) matched.push(indexed);
  }
  return matched;
}
