import { z } from 'zod';
import { providerSchema } from '../llm/provider.js';

/** What a client may choose for a new session (`POST /start_session`); the server's defaults fill the rest. */
export const sessionSettingsSchema = z.object({
  current_directory: z.string().min(1).optional().describe('inside --current-directory or an --allow-directory'),
  llm_provider: providerSchema.optional(),
  model: z.string().min(1).optional(),
  temperature: z.number().min(0).max(2).optional(),
  context_window_size: z.number().int().positive().optional(),
  stream: z.boolean().optional().describe("default for this session's requests"),
  system_prompt: z.string().optional(),
});

export type SessionSettings = z.infer<typeof sessionSettingsSchema>;
