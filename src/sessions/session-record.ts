import { z } from 'zod';

export const toolCallSchema = z.object({
  id: z.string(),
  name: z.string(),
  arguments: z.record(z.string(), z.unknown()),
  invalidArguments: z.string().optional(),
});

export const chatMessageSchema = z.object({
  role: z.enum(['system', 'user', 'assistant', 'tool']),
  content: z.string(),
  tool_calls: z.array(toolCallSchema).optional(),
  tool_call_id: z.string().optional(),
  name: z.string().optional(),
});

export const usageSchema = z.object({ prompt_tokens: z.number(), completion_tokens: z.number() });

/**
 * A session as the store keeps it. Validated whenever it is read back from a store, since a
 * store (KV, a file, a database) is a trust boundary too.
 */
export const sessionRecordSchema = z.object({
  id: z.string(),
  provider: z.enum(['ollama', 'openai']),
  model: z.string(),
  temperature: z.number(),
  context_window_size: z.number().int().positive(),
  stream: z.boolean(),
  current_directory: z.string(),
  system_prompt: z.string(),
  messages: z.array(chatMessageSchema),
  usage: usageSchema,
  /** Prompt tokens of the latest model call: how full the context window is. */
  last_prompt_tokens: z.number(),
  created_at: z.string(),
  updated_at: z.string(),
});

export type SessionRecord = z.infer<typeof sessionRecordSchema>;
