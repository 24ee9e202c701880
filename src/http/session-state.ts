import { findGrant, grantDecidedBy, grantOptions, liveGrants } from '../approvals/grants.js';
import { decide } from '../approvals/policy.js';
import { pendingCalls } from '../approvals/tool-calls.js';
import { estimateTokens } from '../chat/context-window.js';
import { publicStatus, toolOf } from '../chat/turn-response.js';
import type { ChatMessage } from '../llm/chat-model.js';
import type { SessionRecord } from '../sessions/session-record.js';
import type { ToolInfo } from '../tools/tool-provider.js';
import { maxMessagesPerPage, type SessionState } from './schemas.js';

/** Which messages a view holds: the newest `limit` whose index is below `before`. */
export interface MessagePageRequest {
  limit?: number;
  before?: number;
}

/**
 * A page of the session's messages. Indexes count from the session's start, the system prompt
 * first (index 0, when there is one) and dropped messages too, so an index never changes and a
 * walk with `next_before` sees every held message once even while the history grows or is cut.
 */
function messagePage(record: SessionRecord, request: MessagePageRequest) {
  const system: ChatMessage[] = record.system_prompt ? [{ role: 'system', content: record.system_prompt }] : [];
  const dropped = record.dropped_messages ?? 0;
  const historyStart = system.length + dropped;
  const total = historyStart + record.messages.length;
  const before = Math.min(request.before ?? total, total);
  const limit = Math.min(request.limit ?? maxMessagesPerPage, maxMessagesPerPage);
  const from = Math.max(historyStart, before - limit);
  const history = before > from ? record.messages.slice(from - historyStart, before - historyStart) : [];
  const withSystem = system.length > 0 && before > 0 && history.length < limit;
  const messages = withSystem ? [...system, ...history] : history;
  const firstIndex = withSystem ? 0 : history.length > 0 ? from : null;
  const olderHeld = firstIndex !== null && (firstIndex > historyStart || (firstIndex > 0 && system.length > 0));
  const nextBefore = olderHeld ? firstIndex : null;
  return {
    messages,
    messages_page: {
      total,
      dropped,
      first_index: firstIndex,
      next_before: nextBefore,
      truncated: nextBefore !== null || before < total,
    },
  };
}

/** The tokens of the system prompt and the history, when no model call has said how many. */
function estimated(record: SessionRecord): number {
  const system = estimateTokens({ role: 'system', content: record.system_prompt });
  return record.messages.reduce((sum, message) => sum + estimateTokens(message), record.system_prompt ? system : 0);
}

/**
 * The public view of a session, as `GET /session_state` and `POST /start_session` return it.
 * Holds no secret: MCP servers' env and headers are not part of a session.
 */
export function sessionState(
  record: SessionRecord,
  context: { running: boolean; tools: ToolInfo[]; autoApproveReadOnly: boolean; page?: MessagePageRequest },
): SessionState {
  const page = messagePage(record, context.page ?? {});
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
    ...page,
    pending_approvals: pending.map((call) => ({
      request_id: call.request_id,
      tool: toolOf(call),
      ...(call.decided_by ? { decided_by: call.decided_by } : {}),
      grants: grantOptions(call, call.decided_by),
    })),
    tool_calls: [...record.recent_calls, ...(record.turn?.tool_calls ?? [])].map((call) => ({
      request_id: call.request_id,
      name: call.name ?? '',
      server: call.server ?? '',
      status: publicStatus[call.status],
      ...(call.decided_by ? { decided_by: call.decided_by } : {}),
      ...(call.original_arguments ? { arguments: call.arguments, original_arguments: call.original_arguments } : {}),
    })),
    // Read through `inspect`, the record holds no expired grant; a changed tool may have ended some.
    grants: liveGrants(record.grants, context.tools).map(grantDecidedBy),
    tools: context.tools.map((tool) => {
      // Rules without argument patterns decide every call of the tool; the others depend on the call.
      const always = tool.rules?.filter((indexed) => Object.keys(indexed.rule.arguments).length === 0);
      const decision = decide(tool, findGrant(record.grants, tool, {}), context.autoApproveReadOnly, always).kind;
      return {
        name: tool.name,
        server: tool.server,
        description: tool.description,
        requires_approval: decision === 'ask',
        denied: decision === 'deny',
      };
    }),
    usage: record.usage,
    context: { window: record.context_window_size, used_tokens: record.last_prompt_tokens || estimated(record) },
    created_at: record.created_at,
    updated_at: record.updated_at,
  };
}
