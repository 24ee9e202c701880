import { z } from 'zod';

/** The LLM wire formats the server speaks: Ollama's `/api/chat` and OpenAI chat completions. */
export const providerSchema = z.enum(['ollama', 'openai'], { error: 'must be "ollama" or "openai"' });

export type Provider = z.infer<typeof providerSchema>;
