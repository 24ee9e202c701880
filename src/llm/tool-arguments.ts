import type { ToolCall } from './chat-model.js';

/**
 * The bounds of a call's arguments, which come from the model and so are untrusted: the core
 * clones and serialises them recursively (a few thousand levels overflow the stack for good, since
 * the session keeps them), and keeps and replays them in every later request.
 */
export const argumentBounds = { depth: 64, characters: 1_000_000 };

/** Why `value` exceeds `argumentBounds`, or undefined. Iterative, so any depth is safe to check. */
function overBounds(value: unknown): string | undefined {
  const pending: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  let characters = 0;
  for (let item = pending.pop(); item !== undefined; item = pending.pop()) {
    const current = item.value;
    if (current === null || typeof current !== 'object') {
      characters += typeof current === 'string' ? current.length + 2 : String(current).length;
    } else {
      if (item.depth >= argumentBounds.depth) return `nested deeper than ${argumentBounds.depth} levels`;
      characters += 2;
      for (const [key, child] of Object.entries(current)) {
        characters += key.length + 4;
        pending.push({ value: child, depth: item.depth + 1 });
      }
    }
    if (characters > argumentBounds.characters) return `longer than ${argumentBounds.characters} characters`;
  }
  return undefined;
}

function refused(id: string, name: string, reason: string, text = ''): ToolCall {
  const start = text ? `; they start: ${text.slice(0, 200)}` : '';
  return { id, name, arguments: {}, invalidArguments: `arguments ${reason} (refused)${start}` };
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** Builds a ToolCall from argument text; text that is not a JSON object, or is over the bounds, is kept as invalid. */
export function toolCallFromText(id: string, name: string, text: string): ToolCall {
  if (text.trim() === '') return { id, name, arguments: {} };
  if (text.length > argumentBounds.characters) {
    return refused(id, name, `longer than ${argumentBounds.characters} characters`, text);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { id, name, arguments: {}, invalidArguments: text };
  }
  if (!isObject(value)) return { id, name, arguments: {}, invalidArguments: text };
  const reason = overBounds(value);
  return reason ? refused(id, name, reason, text) : { id, name, arguments: value };
}

/** Builds a ToolCall from arguments a provider sent already parsed (Ollama), with the same bounds. */
export function toolCallFromValue(id: string, name: string, value: unknown): ToolCall {
  if (value === undefined || value === null) return { id, name, arguments: {} };
  if (typeof value === 'string') return toolCallFromText(id, name, value);
  const reason = overBounds(value);
  if (reason) return refused(id, name, reason);
  if (!isObject(value)) return { id, name, arguments: {}, invalidArguments: JSON.stringify(value) };
  return { id, name, arguments: value };
}

/** The argument text to replay to a provider: exactly what the model sent when it was invalid. */
export function argumentsText(call: ToolCall): string {
  return call.invalidArguments ?? JSON.stringify(call.arguments);
}
