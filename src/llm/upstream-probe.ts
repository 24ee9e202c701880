import { loadOllama } from './ollama-model.js';
import { loadOpenAi } from './openai-model.js';
import type { Provider } from './provider.js';

/** What a probe of the LLM found: it answers, it does not, or it answers but lacks the model. */
export type ProbeOutcome = 'reachable' | 'unreachable' | { missingModel: string };

/**
 * The port that asks the LLM whether it is there, through its official client. Cheap (a version
 * or model listing, never a model call) and bounded: it settles within its timeout whatever the
 * upstream does, and never rejects.
 */
export interface UpstreamProbe {
  readonly provider: Provider;
  check(): Promise<ProbeOutcome>;
}

export interface UpstreamProbeOptions {
  provider: Provider;
  model: string;
  ollamaBaseUrl: string;
  openaiBaseUrl: string;
  apiKey?: string;
  /** The longest a check may take (default 3 s); past it the LLM counts as unreachable. */
  timeoutMilliseconds?: number;
  /** What the clients request with (default: the global `fetch`). */
  fetch?: typeof fetch;
}

/** Ollama: `/api/version` says it runs, `/api/tags` whether the model is pulled. OpenAI: `/models`. */
export function createUpstreamProbe(options: UpstreamProbeOptions): UpstreamProbe {
  const timeout = options.timeoutMilliseconds ?? 3000;
  return {
    provider: options.provider,
    async check() {
      try {
        if (options.provider === 'openai') return await checkOpenAi(options, timeout);
        return await checkOllama(options, timeout);
      } catch {
        return 'unreachable';
      }
    },
  };
}

async function checkOllama(options: UpstreamProbeOptions, timeout: number): Promise<ProbeOutcome> {
  const { Ollama } = await loadOllama();
  const signal = AbortSignal.timeout(timeout);
  const send = options.fetch ?? fetch;
  const client = new Ollama({
    host: options.ollamaBaseUrl,
    fetch: (input, init) => send(input, { ...init, signal }),
  });
  await client.version();
  const { models } = await client.list();
  // Ollama names carry a tag: `llama3.2` is `llama3.2:latest`.
  const wanted = options.model.includes(':') ? options.model : `${options.model}:latest`;
  const pulled = models.some((model) => model.name === wanted || model.model === wanted);
  return pulled ? 'reachable' : { missingModel: options.model };
}

async function checkOpenAi(options: UpstreamProbeOptions, timeout: number): Promise<ProbeOutcome> {
  const { OpenAI } = await loadOpenAi();
  const client = new OpenAI({
    baseURL: options.openaiBaseUrl,
    apiKey: options.apiKey ?? 'unused',
    defaultHeaders: options.apiKey ? undefined : { Authorization: null },
    maxRetries: 0,
    timeout,
    fetch: options.fetch,
  });
  try {
    await client.models.list();
  } catch (error) {
    // Any answer, even 401 or 404 (some compatible servers have no /models), means the server is there.
    if (error instanceof OpenAI.APIError && error.status !== undefined) return 'reachable';
    throw error;
  }
  return 'reachable';
}
