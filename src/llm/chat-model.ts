import { z } from 'zod';
import type { Provider } from './provider.js';

/** A call of a tool, as the model asked for it. */
export const toolCallSchema = z.object({
  /** The provider's id for the call (synthesised when the provider sends none, as older Ollama). */
  id: z.string(),
  name: z.string(),
  /** The arguments, parsed. Arguments the model sent as invalid JSON are kept in `invalidArguments`. */
  arguments: z.record(z.string(), z.unknown()),
  /**
   * The raw argument text when it was not a JSON object, or a note of why arguments over the
   * bounds of `tool-arguments.ts` (depth, size) were refused; the call then must not run.
   */
  invalidArguments: z.string().optional(),
});

/** One message of a conversation, in the provider-neutral form the store keeps. */
export const chatMessageSchema = z.object({
  role: z.enum(['system', 'user', 'assistant', 'tool']),
  content: z.string(),
  /** Only on assistant messages that ask for tools. */
  tool_calls: z.array(toolCallSchema).optional(),
  /** Only on tool messages: the call this is the result of. */
  tool_call_id: z.string().optional(),
  /** Only on tool messages: the tool's name (Ollama's `tool_name`). */
  name: z.string().optional(),
  /** Only on tool messages: how the call ended, as `tool_result` said (kept for clients, not sent upstream). */
  status: z.enum(['executed', 'denied', 'not_run']).optional(),
  /** Only on tool messages: the result is an error (a failed or refused call). */
  is_error: z.boolean().optional(),
});

/** Tokens a model call (or a turn, or a session) used. */
export const usageSchema = z.object({
  prompt_tokens: z.number().int().nonnegative(),
  completion_tokens: z.number().int().nonnegative(),
});

export type ToolCall = z.infer<typeof toolCallSchema>;
export type ChatMessage = z.infer<typeof chatMessageSchema>;
export type Usage = z.infer<typeof usageSchema>;

/** A tool the model may call: its name and JSON Schema for the arguments. */
export interface ToolDefinition {
  name: string;
  description?: string;
  parameters: Record<string, unknown>;
}

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  temperature: number;
  /** Ollama's `num_ctx`; OpenAI-compatible APIs have no such parameter. */
  contextWindowSize: number;
  tools?: ToolDefinition[];
  /**
   * The trace context of the call's span (W3C `traceparent`, maybe `tracestate`), sent as headers
   * of the upstream request so that the LLM's own spans join the trace. Absent when nothing is traced.
   */
  traceHeaders?: Record<string, string>;
}

/** What a model stream yields, in order: text deltas and tool calls, then exactly one `finish`. */
export type ModelEvent =
  | { type: 'text'; text: string }
  | { type: 'tool_call'; call: ToolCall }
  | { type: 'finish'; reason: string; usage?: Usage };

/**
 * The port to an LLM. One adapter per wire format (OpenAI chat completions, Ollama `/api/chat`);
 * each maps its provider's chunks to `ModelEvent` and its failures to `AppError`
 * (`upstream_error` 502, `upstream_unavailable` 503, `upstream_timeout` 504) in one place.
 */
export interface ChatModel {
  readonly provider: Provider;
  /**
   * Streams one model call. Aborting `signal` ends the upstream request; the iterator then throws
   * the signal's reason. Going longer than the upstream timeout without a byte throws 504.
   */
  stream(request: ChatRequest, signal: AbortSignal): AsyncIterable<ModelEvent>;
}
