import { resultStatus } from '../approvals/tool-calls.js';
import type { SessionRecord, ToolCallState, TurnState } from '../sessions/session-record.js';
import type { Tool, TurnEvent, TurnResponse } from './turn-events.js';

/** A call as clients see it: the tool's name, its server, and exactly the arguments it runs with. */
export function toolOf(call: ToolCallState): Tool {
  return { name: call.name, arguments: call.arguments, server: call.server };
}

/** The `tool_result` event of a call that has its result. */
export function toolResultEvent(call: ToolCallState): TurnEvent {
  return {
    event: 'tool_result',
    data: {
      request_id: call.request_id,
      tool: { name: call.name, server: call.server },
      content: call.result ?? '',
      is_error: call.is_error ?? false,
      status: resultStatus[call.status],
    },
  };
}

/** A call's status as clients see it: how it ended, or `pending` while it has not. */
export const publicStatus = { ...resultStatus, pending: 'pending', approved: 'pending', running: 'pending' } as const;

/** The JSON response (and `done` data) for the turn as it stands. */
export function turnResponse(session: SessionRecord, turn: TurnState, message: string): TurnResponse {
  const pending = turn.tool_calls.find((call) => call.status === 'pending' && !call.closed);
  return {
    request_id: pending?.request_id ?? turn.request_id,
    requires_approval: pending !== undefined,
    tool: pending ? toolOf(pending) : null,
    message,
    model: session.model,
    role: 'assistant',
    session_id: session.id,
    tool_calls: turn.tool_calls.map((call) => ({
      request_id: call.request_id,
      ...toolOf(call),
      status: publicStatus[call.status],
      ...(call.result !== undefined ? { result: call.result, is_error: call.is_error ?? false } : {}),
      ...(call.decided_by ? { decided_by: call.decided_by } : {}),
      ...(call.original_arguments ? { original_arguments: call.original_arguments } : {}),
    })),
    usage: { ...turn.usage },
  };
}
