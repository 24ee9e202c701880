import type { ChatMessage } from '../llm/chat-model.js';

/** Rough token count: ~4 characters a token plus a few for the message's framing. */
export function estimateTokens(message: ChatMessage): number {
  let characters = message.content.length;
  for (const call of message.tool_calls ?? []) characters += call.name.length + JSON.stringify(call.arguments).length;
  return Math.ceil(characters / 4) + 4;
}

/** Tokens kept free for the answer: a quarter of the window, at most 1,024. */
export function answerReserve(windowTokens: number): number {
  return Math.min(Math.floor(windowTokens / 4), 1024);
}

/**
 * The messages to send upstream so that they fit the context window less the answer reserve:
 * the system prompt is always kept, then whole exchanges are kept newest first until the next one
 * would not fit. An exchange starts at a user message and holds the assistant's tool calls with
 * their results, so a call is never separated from its result. The latest exchange is always
 * sent, even when too long. Works from the end: the cost is that of what is sent, not of the
 * whole history.
 */
export function fitContextWindow(
  system: ChatMessage | undefined,
  history: ChatMessage[],
  windowTokens: number,
): ChatMessage[] {
  const budget = windowTokens - answerReserve(windowTokens) - (system ? estimateTokens(system) : 0);
  let used = 0;
  let exchange = 0;
  let start = history.length;
  for (let index = history.length - 1; index >= 0; index -= 1) {
    exchange += estimateTokens(history[index]);
    if (history[index].role !== 'user' && index > 0) continue;
    if (start < history.length && used + exchange > budget) break;
    used += exchange;
    exchange = 0;
    start = index;
  }
  const kept = history.slice(start);
  return system ? [system, ...kept] : kept;
}
