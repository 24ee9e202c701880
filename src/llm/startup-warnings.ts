import { estimateTokens } from '../chat/context-window.js';
import { isLoopback } from '../http/security.js';
import type { ToolInfo } from '../tools/tool-provider.js';
import type { Provider } from './provider.js';
import { displayUrl } from './upstream-errors.js';
import type { ProbeOutcome } from './upstream-probe.js';

interface UpstreamSettings {
  provider: Provider;
  model: string;
  ollamaBaseUrl: string;
  openaiBaseUrl: string;
  apiKey?: string;
}

/** One line telling the operator what the start-up probe found wrong, if anything. */
export function probeWarning(outcome: ProbeOutcome, settings: UpstreamSettings): string | undefined {
  if (outcome === 'reachable') return undefined;
  if (typeof outcome === 'object') {
    return `Ollama at ${displayUrl(settings.ollamaBaseUrl)} has no model "${outcome.missingModel}": run \`ollama pull ${outcome.missingModel}\``;
  }
  if (settings.provider === 'ollama') {
    return `Ollama is not reachable at ${displayUrl(settings.ollamaBaseUrl)}: start it with \`ollama serve\`, or use --provider openai`;
  }
  return `the OpenAI-compatible API is not reachable at ${displayUrl(settings.openaiBaseUrl)}: check --openai-base-url`;
}

/** A remote OpenAI-compatible API without a key will refuse every call; a local one may need none. */
export function apiKeyWarning(settings: UpstreamSettings): string | undefined {
  if (settings.provider !== 'openai' || settings.apiKey) return undefined;
  const hostname = URL.canParse(settings.openaiBaseUrl) ? new URL(settings.openaiBaseUrl).hostname : '';
  if (isLoopback(hostname)) return undefined;
  return `no API key for ${displayUrl(settings.openaiBaseUrl)}: set LLM_API_KEY (or --api-key)`;
}

/**
 * A line when the system prompt and the tool definitions (as the JSON the model is sent) take more
 * than half the context window, estimated as the history is trimmed (`estimateTokens`).
 */
export function contextWindowWarning(systemPrompt: string, tools: ToolInfo[], contextWindowSize: number) {
  const definitions = tools.map((tool) => ({
    name: tool.name,
    description: tool.description,
    parameters: tool.inputSchema,
  }));
  const system = estimateTokens({ role: 'system', content: systemPrompt });
  const toolTokens = tools.length ? estimateTokens({ role: 'system', content: JSON.stringify(definitions) }) : 0;
  const used = system + toolTokens;
  if (used * 2 <= contextWindowSize) return undefined;
  return `the system prompt and tool definitions take about ${used} tokens (${system} + ${toolTokens}) of a ${contextWindowSize}-token context window, leaving little for the conversation: raise --context-window-size (e.g. ${nextPowerOfTwo(used * 4)})`;
}

const nextPowerOfTwo = (value: number) => 2 ** Math.ceil(Math.log2(value));
