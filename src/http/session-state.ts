import { estimateTokens } from '../chat/context-window.js';
import type { SessionRecord } from '../sessions/session-record.js';
import type { SessionState } from './schemas.js';

/** The public view of a session, as `GET /session_state` and `POST /start_session` return it. */
export function sessionState(record: SessionRecord, running: boolean): SessionState {
  const system = { role: 'system' as const, content: record.system_prompt };
  const messages = record.system_prompt ? [system, ...record.messages] : record.messages;
  const estimated = messages.reduce((sum, message) => sum + estimateTokens(message), 0);
  return {
    session_id: record.id,
    provider: record.provider,
    model: record.model,
    current_directory: record.current_directory,
    temperature: record.temperature,
    context_window_size: record.context_window_size,
    stream: record.stream,
    status: running ? 'running' : 'idle',
    messages,
    pending_approvals: [],
    tools: [],
    usage: record.usage,
    context: { window: record.context_window_size, used_tokens: record.last_prompt_tokens || estimated },
    created_at: record.created_at,
    updated_at: record.updated_at,
  };
}
