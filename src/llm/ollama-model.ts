import type { Message, Tool } from 'ollama/browser';
import { AppError } from '../errors.js';
import { lazy } from '../lazy.js';
import type { ChatMessage, ChatModel, ToolDefinition, Usage } from './chat-model.js';
import { toolCallFromValue } from './tool-arguments.js';
import { createIdleWatchdog, upstreamFailures } from './upstream-errors.js';

export interface OllamaModelOptions {
  baseUrl: string;
  /** No byte for this long ends the call with 504. */
  timeoutMilliseconds: number;
  /** What the client makes its requests with (default: the runtime's `fetch`). */
  fetch?: typeof fetch;
}

interface OllamaToolCall {
  id?: string;
  function: { name: string; arguments?: unknown };
}

/** The official client, loaded with the first call: a server whose sessions use OpenAI never loads it. */
export const loadOllama = lazy(() => import('ollama/browser'));

/** Ollama's native `/api/chat`, always streamed (NDJSON). */
export function createOllamaModel(options: OllamaModelOptions): ChatModel {
  const failures = upstreamFailures('ollama', options.baseUrl, []);
  return {
    provider: 'ollama',
    async *stream(request, signal) {
      const { Ollama } = await loadOllama();
      const watchdog = createIdleWatchdog(options.timeoutMilliseconds, signal);
      // ollama-js takes no per-request signal or headers, so each call gets a client whose fetch carries ours.
      const { traceHeaders } = request;
      const client = new Ollama({
        host: options.baseUrl,
        fetch: (input, init) =>
          (options.fetch ?? fetch)(input, {
            ...init,
            headers: traceHeaders ? withHeaders(init?.headers, traceHeaders) : init?.headers,
            signal: init?.signal ? AbortSignal.any([init.signal, watchdog.signal]) : watchdog.signal,
          }),
      });
      let received = false;
      try {
        const response = await client.chat({
          model: request.model,
          messages: request.messages.map(toOllamaMessage),
          stream: true,
          options: { temperature: request.temperature, num_ctx: request.contextWindowSize },
          ...(request.tools?.length ? { tools: request.tools.map(toOllamaTool) } : {}),
        });
        let count = 0;
        // One id is one call (one approval, one run, one result): a repeat of an id is dropped.
        const ids = new Set<string>();
        for await (const part of response) {
          received = true;
          watchdog.touch();
          if (part.message?.content) yield { type: 'text', text: part.message.content };
          for (const call of (part.message?.tool_calls ?? []) as OllamaToolCall[]) {
            const id = call.id ?? `call_${count}`;
            count += 1;
            if (ids.has(id)) continue;
            ids.add(id);
            yield { type: 'tool_call', call: toolCallFromValue(id, call.function.name, call.function.arguments) };
          }
          if (part.done) {
            const usage: Usage = {
              prompt_tokens: part.prompt_eval_count ?? 0,
              completion_tokens: part.eval_count ?? 0,
            };
            yield { type: 'finish', reason: part.done_reason || 'stop', usage };
          }
        }
      } catch (error) {
        if (watchdog.timedOut) throw failures.timedOut(options.timeoutMilliseconds);
        if (signal.aborted) throw signal.reason;
        if (error instanceof AppError) throw error;
        // ollama-js does not export ResponseError; its name is the documented way to recognise it.
        if (error instanceof Error && error.name === 'ResponseError') {
          const status = (error as Error & { status_code?: number }).status_code;
          throw failures.answered(status, error.message);
        }
        if (error instanceof TypeError) throw failures.connectionFailed(received);
        const message = error instanceof Error ? error.message : String(error);
        throw failures.answered(undefined, message);
      } finally {
        watchdog.dispose();
      }
    },
  };
}

function withHeaders(headers: HeadersInit | undefined, added: Record<string, string>): Headers {
  const merged = new Headers(headers);
  for (const [name, value] of Object.entries(added)) merged.set(name, value);
  return merged;
}

function toOllamaMessage(message: ChatMessage): Message {
  const converted: Message & { tool_call_id?: string } = { role: message.role, content: message.content };
  if (message.tool_calls?.length) {
    converted.tool_calls = message.tool_calls.map((call) => ({
      function: { name: call.name, arguments: call.arguments },
    }));
  }
  if (message.role === 'tool') {
    converted.tool_name = message.name;
    converted.tool_call_id = message.tool_call_id;
  }
  return converted;
}

function toOllamaTool(tool: ToolDefinition): Tool {
  return {
    type: 'function',
    function: {
      name: tool.name,
      description: tool.description,
      parameters: tool.parameters as Tool['function']['parameters'],
    },
  };
}
