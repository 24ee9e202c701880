import type { ToolCall } from './chat-model.js';

/** Builds a ToolCall from argument text; text that is not a JSON object is kept as invalid. */
export function toolCallFromText(id: string, name: string, text: string): ToolCall {
  if (text.trim() === '') return { id, name, arguments: {} };
  try {
    const value: unknown = JSON.parse(text);
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      return { id, name, arguments: value as Record<string, unknown> };
    }
  } catch {}
  return { id, name, arguments: {}, invalidArguments: text };
}

/** The argument text to replay to a provider: exactly what the model sent when it was invalid. */
export function argumentsText(call: ToolCall): string {
  return call.invalidArguments ?? JSON.stringify(call.arguments);
}
