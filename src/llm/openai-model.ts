import { createParser } from 'eventsource-parser';
import type {
  ChatCompletionChunk,
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from 'openai/resources/chat/completions';
import { AppError } from '../errors.js';
import { lazy } from '../lazy.js';
import type { ChatMessage, ChatModel, ToolDefinition, Usage } from './chat-model.js';
import { argumentBounds, argumentsText, toolCallFromText } from './tool-arguments.js';
import { createIdleWatchdog, upstreamFailures } from './upstream-errors.js';

export interface OpenAiModelOptions {
  baseUrl: string;
  apiKey?: string;
  /** No byte for this long ends the call with 504. */
  timeoutMilliseconds: number;
  /** Retries of 408/409/429/5xx before the first byte (the client's own backoff). Default 1. */
  maxRetries?: number;
  /** What the client makes its requests with (default: the runtime's `fetch`). */
  fetch?: typeof fetch;
  /**
   * The body of a response of `fetch` as that fetch received it, when it can give it without a web
   * stream (undici's `request` gives a Node stream): read instead of `response.body`.
   */
  rawBody?: (response: Response) => AsyncIterable<Uint8Array> | undefined;
}

/** The official client, loaded with the first call: a server whose sessions use Ollama never loads it. */
export const loadOpenAi = lazy(() => import('openai'));

/** An OpenAI-compatible chat completions model (OpenAI, OpenRouter, vLLM, LM Studio), always streamed. */
export function createOpenAiModel(options: OpenAiModelOptions): ChatModel {
  const failures = upstreamFailures('openai', options.baseUrl, [options.apiKey]);
  const connect = lazy(async () => {
    const sdk = await loadOpenAi();
    const client = new sdk.OpenAI({
      baseURL: options.baseUrl,
      // Local servers need no key; the client insists on one, so send a placeholder and drop the header.
      apiKey: options.apiKey ?? 'unused',
      defaultHeaders: options.apiKey ? undefined : { Authorization: null },
      maxRetries: options.maxRetries ?? 1,
      timeout: options.timeoutMilliseconds,
      fetch: options.fetch,
    });
    return { sdk, client };
  });

  return {
    provider: 'openai',
    async *stream(request, signal) {
      const { sdk, client } = await connect();
      const { APIConnectionError, APIConnectionTimeoutError, APIError } = sdk;
      const watchdog = createIdleWatchdog(options.timeoutMilliseconds, signal);
      let received = false;
      let body: AsyncIterator<Uint8Array> | undefined;
      // The answer said `data: [DONE]`: nothing more of it will come.
      let ended = false;
      try {
        // The SDK makes the request (auth, retries, error statuses); eventsource-parser reads the
        // stream: the SDK's own reader copies every chunk through several generators, and was the
        // largest cost per token in `npm run bench`.
        const response = await client.chat.completions
          .create(
            {
              model: request.model,
              messages: request.messages.map(toOpenAiMessage),
              temperature: request.temperature,
              stream: true,
              stream_options: { include_usage: true },
              ...(request.tools?.length ? { tools: request.tools.map(toOpenAiTool) } : {}),
            },
            { signal: watchdog.signal, headers: request.traceHeaders },
          )
          .asResponse();
        const calls = new Map<number, { id: string; name: string; text: string }>();
        let finish: string | undefined;
        let usage: Usage | undefined;
        const chunks: ChatCompletionChunk[] = [];
        let failure: string | undefined;
        const parser = createParser({
          onEvent(event) {
            if (event.data === '[DONE]') {
              ended = true;
              return;
            }
            const chunk = JSON.parse(event.data);
            if (chunk.error) failure = typeof chunk.error.message === 'string' ? chunk.error.message : 'unknown error';
            else chunks.push(chunk);
          },
        });
        const source = options.rawBody?.(response) ?? response.body;
        body = source?.[Symbol.asyncIterator]();
        const decoder = new TextDecoder();
        while (body && !ended) {
          const read = await body.next();
          if (read.done) break;
          received = true;
          watchdog.touch();
          parser.feed(decoder.decode(read.value, { stream: true }));
          // The text of every chunk of one network read leaves as one event: an upstream that packs
          // several tokens in a write costs one event, not one per token, and none waits longer.
          let text = '';
          for (const chunk of chunks) {
            if (chunk.usage) {
              usage = { prompt_tokens: chunk.usage.prompt_tokens, completion_tokens: chunk.usage.completion_tokens };
            }
            const choice = chunk.choices?.[0];
            if (!choice) continue;
            const content = choice.delta?.content;
            if (content) text += content;
            for (const part of choice.delta?.tool_calls ?? []) {
              const call = calls.get(part.index) ?? { id: '', name: '', text: '' };
              if (part.id) call.id = part.id;
              if (part.function?.name) call.name += part.function.name;
              // Past the bound the call is refused anyway: keep no more of the text than shows that.
              if (part.function?.arguments && call.text.length <= argumentBounds.characters) {
                call.text += part.function.arguments;
              }
              calls.set(part.index, call);
            }
            if (choice.finish_reason) finish = choice.finish_reason;
          }
          chunks.length = 0;
          if (text) yield { type: 'text', text };
          if (failure !== undefined) throw failures.answered(undefined, failure);
        }
        if (!finish) throw failures.malformed('the stream ended before the model finished its answer');
        // One id is one call (one approval, one run, one result): a repeat of an id is dropped.
        const ids = new Set<string>();
        for (const [index, call] of calls) {
          const id = call.id || `call_${index}`;
          if (ids.has(id)) continue;
          ids.add(id);
          yield { type: 'tool_call', call: toolCallFromText(id, call.name, call.text) };
        }
        yield { type: 'finish', reason: finish, usage };
      } catch (error) {
        if (watchdog.timedOut || error instanceof APIConnectionTimeoutError) {
          throw failures.timedOut(options.timeoutMilliseconds);
        }
        if (signal.aborted) throw signal.reason;
        if (error instanceof AppError) throw error;
        if (error instanceof APIConnectionError) throw failures.connectionFailed(false);
        if (error instanceof APIError) {
          const body = error.error as { message?: unknown } | undefined;
          const message = typeof body?.message === 'string' ? body.message : error.message;
          throw failures.answered(error.status, message);
        }
        if (error instanceof SyntaxError) throw failures.malformed('the stream held an event that is not JSON');
        throw failures.connectionFailed(received);
      } finally {
        watchdog.dispose();
        // A complete answer's response is read to its end (as the SDK's own reader does), in the
        // background: cut short, it would close the keep-alive connection to the upstream.
        if (ended && body) void drain(body);
        else body?.return?.().catch(() => {});
      }
    },
  };
}

/** Reads what is left of a body and drops it; a body that fails has nothing more to give. */
async function drain(body: AsyncIterator<Uint8Array>) {
  try {
    while (!(await body.next()).done);
  } catch {}
}

function toOpenAiMessage(message: ChatMessage): ChatCompletionMessageParam {
  switch (message.role) {
    case 'assistant':
      if (!message.tool_calls?.length) return { role: 'assistant', content: message.content };
      return {
        role: 'assistant',
        content: message.content || null,
        tool_calls: message.tool_calls.map((call) => ({
          id: call.id,
          type: 'function' as const,
          function: { name: call.name, arguments: argumentsText(call) },
        })),
      };
    case 'tool':
      return { role: 'tool', tool_call_id: message.tool_call_id ?? '', content: message.content };
    default:
      return { role: message.role, content: message.content };
  }
}

function toOpenAiTool(tool: ToolDefinition): ChatCompletionTool {
  return {
    type: 'function',
    function: { name: tool.name, description: tool.description, parameters: tool.parameters },
  };
}
