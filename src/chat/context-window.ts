import type { ChatMessage } from '../llm/chat-model.js';

/** A message's length in characters: its text, and its tool calls' names and arguments. */
export function messageCharacters(message: ChatMessage): number {
  let characters = message.content.length;
  for (const call of message.tool_calls ?? []) characters += call.name.length + JSON.stringify(call.arguments).length;
  return characters;
}

/** Rough token count: ~4 characters a token plus a few for the message's framing. */
export function estimateTokens(message: ChatMessage): number {
  return Math.ceil(messageCharacters(message) / 4) + 4;
}

/** Tokens kept free for the answer: a quarter of the window, at most 1,024. */
export function answerReserve(windowTokens: number): number {
  return Math.min(Math.floor(windowTokens / 4), 1024);
}

/**
 * Where the newest whole exchanges of `history` whose `cost` fits `budget` begin. An exchange
 * starts at a user message (or at the history's start) and holds the assistant's tool calls with
 * their results, so a call is never separated from its result. The latest exchange is always
 * kept, even when too costly. Works from the end: the cost is that of what is kept.
 */
export function keptExchangesStart(history: ChatMessage[], budget: number, cost: (message: ChatMessage) => number) {
  let used = 0;
  let exchange = 0;
  let start = history.length;
  for (let index = history.length - 1; index >= 0; index -= 1) {
    exchange += cost(history[index]);
    if (history[index].role !== 'user' && index > 0) continue;
    if (start < history.length && used + exchange > budget) break;
    used += exchange;
    exchange = 0;
    start = index;
  }
  return start;
}

/**
 * The messages to send upstream so that they fit the context window less the answer reserve:
 * the system prompt is always kept, then whole exchanges newest first (`keptExchangesStart`).
 */
export function fitContextWindow(
  system: ChatMessage | undefined,
  history: ChatMessage[],
  windowTokens: number,
): ChatMessage[] {
  const budget = windowTokens - answerReserve(windowTokens) - (system ? estimateTokens(system) : 0);
  const kept = history.slice(keptExchangesStart(history, budget, estimateTokens));
  return system ? [system, ...kept] : kept;
}
