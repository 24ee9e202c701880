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
 * the system prompt is always kept, then whole exchanges are dropped oldest first. An exchange
 * starts at a user message and holds the assistant's tool calls with their results, so a call is
 * never separated from its result. The latest exchange is always sent, even when too long.
 */
export function fitContextWindow(
  system: ChatMessage | undefined,
  history: ChatMessage[],
  windowTokens: number,
): ChatMessage[] {
  const exchanges: ChatMessage[][] = [];
  for (const message of history) {
    if (message.role === 'user' || exchanges.length === 0) exchanges.push([message]);
    else exchanges[exchanges.length - 1].push(message);
  }
  const sizes = exchanges.map((exchange) => exchange.reduce((sum, message) => sum + estimateTokens(message), 0));
  let total = (system ? estimateTokens(system) : 0) + sizes.reduce((sum, size) => sum + size, 0);
  const budget = windowTokens - answerReserve(windowTokens);
  let first = 0;
  while (total > budget && first < exchanges.length - 1) {
    total -= sizes[first];
    first += 1;
  }
  const kept = exchanges.slice(first).flat();
  return system ? [system, ...kept] : kept;
}
