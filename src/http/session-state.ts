import { decide } from '../approvals/policy.js';
import { pendingCalls } from '../approvals/tool-calls.js';
import { estimateTokens } from '../chat/context-window.js';
import { toolOf } from '../chat/turn-response.js';
import type { SessionRecord } from '../sessions/session-record.js';
import type { ToolInfo } from '../tools/tool-provider.js';
import type { SessionState } from './schemas.js';

/**
 * The public view of a session, as `GET /session_state` and `POST /start_session` return it.
 * Holds no secret: MCP servers' env and headers are not part of a session.
 */
export function sessionState(
  record: SessionRecord,
  context: { running: boolean; tools: ToolInfo[]; autoApproveReadOnly: boolean },
): SessionState {
  const system = { role: 'system' as const, content: record.system_prompt };
  const messages = record.system_prompt ? [system, ...record.messages] : record.messages;
  const estimated = messages.reduce((sum, message) => sum + estimateTokens(message), 0);
  const pending = pendingCalls(record.turn);
  return {
    session_id: record.id,
    provider: record.provider,
    model: record.model,
    current_directory: record.current_directory,
    temperature: record.temperature,
    context_window_size: record.context_window_size,
    stream: record.stream,
    status: context.running ? 'running' : pending.length > 0 ? 'awaiting_approval' : 'idle',
    messages,
    pending_approvals: pending.map((call) => ({
      request_id: call.request_id,
      tool: toolOf(call),
    })),
    tools: context.tools.map((tool) => ({
      name: tool.name,
      server: tool.server,
      description: tool.description,
      requires_approval: decide(tool, record.grants, context.autoApproveReadOnly).kind !== 'allow',
    })),
    usage: record.usage,
    context: { window: record.context_window_size, used_tokens: record.last_prompt_tokens || estimated },
    created_at: record.created_at,
    updated_at: record.updated_at,
  };
}
