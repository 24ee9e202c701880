import type { ChatModel } from './chat-model.js';
import { type ModelObserver, observedModel } from './observed-model.js';
import { createOllamaModel } from './ollama-model.js';
import { createOpenAiModel } from './openai-model.js';
import type { Provider } from './provider.js';

export interface ModelsOptions {
  ollamaBaseUrl: string;
  openaiBaseUrl: string;
  apiKey?: string;
  upstreamTimeout: number;
  /** Client retries for the OpenAI adapter (default 1). */
  openaiMaxRetries?: number;
  /** What both clients make their HTTP requests with (default: the runtime's `fetch`). */
  http?: ModelHttp;
}

/** An HTTP client for the LLM clients: a `fetch`, and maybe a cheaper way to read its bodies. */
export interface ModelHttp {
  fetch: typeof fetch;
  /** The body of a response of `fetch` without the web stream over it, when it has one. */
  rawBody?: (response: Response) => AsyncIterable<Uint8Array> | undefined;
}

/**
 * One adapter per provider, made on first use and then shared by every session; with `observer`,
 * each call is timed in a debug line and reported as reaching the LLM or not.
 */
export function createModels(options: ModelsOptions, observer?: ModelObserver): (provider: Provider) => ChatModel {
  const made = new Map<string, ChatModel>();
  const make = (provider: Provider) =>
    provider === 'ollama'
      ? // The key is for the OpenAI-compatible API; it is never sent to Ollama, which any session may pick.
        createOllamaModel({
          baseUrl: options.ollamaBaseUrl,
          timeoutMilliseconds: options.upstreamTimeout,
          fetch: options.http?.fetch,
        })
      : createOpenAiModel({
          baseUrl: options.openaiBaseUrl,
          apiKey: options.apiKey,
          timeoutMilliseconds: options.upstreamTimeout,
          maxRetries: options.openaiMaxRetries,
          fetch: options.http?.fetch,
          rawBody: options.http?.rawBody,
        });
  return (provider) => {
    let model = made.get(provider);
    if (!model) {
      model = observer ? observedModel(make(provider), observer) : make(provider);
      made.set(provider, model);
    }
    return model;
  };
}
