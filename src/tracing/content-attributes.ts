import type { ChatMessage, ToolCall } from '../llm/chat-model.js';

/**
 * What `--trace-content` records, in the shapes of the OpenTelemetry GenAI conventions
 * (`gen_ai.input.messages`, `gen_ai.output.messages`: role and parts, as JSON text).
 */

type MessagePart =
  | { type: 'text'; content: string }
  | { type: 'tool_call'; id: string; name: string; arguments: unknown }
  | { type: 'tool_call_response'; id: string | null; response: string };

const toolCallPart = (call: ToolCall): MessagePart => ({
  type: 'tool_call',
  id: call.id,
  name: call.name,
  arguments: call.invalidArguments ?? call.arguments,
});

function parts(message: ChatMessage): MessagePart[] {
  if (message.role === 'tool') {
    return [{ type: 'tool_call_response', id: message.tool_call_id ?? null, response: message.content }];
  }
  const text: MessagePart[] = message.content ? [{ type: 'text', content: message.content }] : [];
  return [...text, ...(message.tool_calls ?? []).map(toolCallPart)];
}

/** `gen_ai.input.messages`: the messages sent to the model, in order (the system prompt first). */
export function inputMessages(messages: readonly ChatMessage[]): string {
  return JSON.stringify(messages.map((message) => ({ role: message.role, parts: parts(message) })));
}

/** `gen_ai.output.messages`: the model's one answer, its text and tool calls. */
export function outputMessages(text: string, calls: readonly ToolCall[], finishReason: string): string {
  return JSON.stringify([
    {
      role: 'assistant',
      parts: parts({ role: 'assistant', content: text, tool_calls: [...calls] }),
      finish_reason: finishReason,
    },
  ]);
}
