import { AppError } from '../errors.js';
import type { ToolCall } from '../llm/chat-model.js';
import type { CallStatus, SessionRecord, ToolCallState, TurnState } from '../sessions/session-record.js';
import type { ToolInfo } from '../tools/tool-provider.js';
import type { IndexedRule } from './argument-rules.js';
import { addGrant, findGrant, type Grant, makeGrant, type Remember } from './grants.js';
import { decide } from './policy.js';

export interface ApprovalSettings {
  autoApproveReadOnly: boolean;
  /** How long a pending call waits for a decision (milliseconds). */
  approvalTtl: number;
}

/** A human's answer to one pending call. */
export interface Decision {
  approve: boolean;
  reason?: string;
  /** What the approval also approves (see `rememberSchema`); ignored on a denial. */
  remember?: Remember;
  /** Only with `approve`: arguments to run the call with instead of the model's, already checked. */
  arguments?: Record<string, unknown>;
}

export const deniedText = (reason?: string) =>
  `The user denied this tool call; it did not run.${reason ? ` Reason: ${reason}` : ''}`;
/** What the model is told of a call the configuration refused without asking anyone. */
export const refusedText = (reason: string) =>
  `The server's configuration denied this tool call without asking anyone; it did not run. Reason: ${reason}.`;
export const expiredText = 'The tool did not run: approval expired before the user decided.';
export const stoppedText = 'The tool did not finish: stopped by user.';
const notStartedText = (reason: string) => `The tool did not run: ${reason}.`;
/** What the model is told before the result of a call whose arguments the approver edited. */
export const editedText = (args: Record<string, unknown>) =>
  `A person edited the arguments of this call before approving it. The tool ran with these arguments instead of yours: ${JSON.stringify(args)}\n\nResult:\n`;

/**
 * The state of a call the model just made: not_run when the tool is unknown or its arguments are
 * not a JSON object, denied or approved when the policy says so, else pending. `matched`: the
 * tool's rules that match the call's arguments (`matchRules`); `argumentsHash`: the hash of its
 * arguments (`argumentsHash`), which grants for the same arguments compare.
 */
export function newToolCall(
  call: ToolCall,
  tools: ReadonlyMap<string, ToolInfo>,
  grants: readonly (Grant | string)[],
  settings: ApprovalSettings & {
    requestId: string;
    now: number;
    matched?: readonly IndexedRule[];
    argumentsHash?: string;
  },
): ToolCallState {
  const tool = tools.get(call.name);
  const base = {
    request_id: settings.requestId,
    call_id: call.id,
    name: call.name,
    server: tool?.server ?? '',
    ...(tool ? { server_tool_name: tool.serverToolName, tool_fingerprint: tool.fingerprint } : {}),
    arguments: call.arguments,
    closed: false,
  };
  if (!tool) {
    const known = [...tools.keys()].join(', ') || 'none';
    return {
      ...base,
      status: 'not_run',
      is_error: true,
      result: `Unknown tool "${call.name}"; it did not run. Tools: ${known}.`,
    };
  }
  if (call.invalidArguments !== undefined) {
    return {
      ...base,
      status: 'not_run',
      is_error: true,
      result: `The arguments were not a JSON object, so the tool did not run: ${call.invalidArguments.slice(0, 500)}`,
    };
  }
  const grant = findGrant(grants, tool, { now: settings.now, argumentsHash: settings.argumentsHash });
  const decision = decide(tool, grant, settings.autoApproveReadOnly, settings.matched);
  const decided = decision.by ? { decided_by: decision.by } : {};
  if (decision.kind === 'deny') {
    const refused = { reason: decision.reason, result: refusedText(decision.reason), is_error: true };
    return { ...base, ...decided, status: 'denied', ...refused };
  }
  if (decision.kind === 'allow') return { ...base, ...decided, status: 'approved', approved_by: 'policy' };
  return { ...base, ...decided, status: 'pending', expires_at: settings.now + settings.approvalTtl };
}

/** Marks every pending call past its expiry as expired. Returns whether any changed. */
export function expireCalls(turn: TurnState | null, now: number): boolean {
  let changed = false;
  for (const call of turn?.tool_calls ?? []) {
    if (call.status === 'pending' && call.expires_at !== undefined && call.expires_at <= now) {
      Object.assign(call, { status: 'expired', reason: 'approval expired', result: expiredText, is_error: true });
      changed = true;
    }
  }
  return changed;
}

/**
 * Applies a human's decision to a pending call: an approval with edited arguments puts them in
 * place (keeping the model's), and its `remember` adds a grant to the session. `argumentsHash`:
 * the hash of the arguments the call runs with, needed by a grant of the same arguments.
 */
export function applyDecision(
  session: SessionRecord,
  call: ToolCallState,
  decision: Decision,
  context: { now: number; argumentsHash?: string },
) {
  if (decision.approve) {
    call.status = 'approved';
    call.approved_by = 'user';
    if (decision.arguments !== undefined) {
      call.original_arguments = call.arguments;
      call.arguments = decision.arguments;
    }
    const grant = makeGrant(call, decision.remember, context);
    if (grant) addGrant(session.grants, grant);
  } else {
    Object.assign(call, {
      status: 'denied',
      reason: decision.reason,
      result: deniedText(decision.reason),
      is_error: true,
    });
  }
}

/** Ends every call of the open step that has not finished, with `reason` as its result. */
export function settleOpenCalls(turn: TurnState, reason: string) {
  for (const call of turn.tool_calls) {
    if (call.closed) continue;
    if (call.status === 'pending')
      Object.assign(call, { status: 'denied', reason, result: deniedText(reason), is_error: true });
    else if (call.status === 'approved')
      Object.assign(call, { status: 'not_run', result: notStartedText(reason), is_error: true });
    else if (call.status === 'running') Object.assign(call, { status: 'failed', result: stoppedText, is_error: true });
  }
}

/** How a call that has its result ended, as `tool_result` and the tool message tell it. */
export const resultStatus = {
  pending: 'not_run',
  approved: 'not_run',
  running: 'not_run',
  executed: 'executed',
  failed: 'executed',
  not_run: 'not_run',
  denied: 'denied',
  expired: 'denied',
} as const;

/** Appends the result message of each finished, unclosed call, in the order the model made them. */
export function closeStep(session: SessionRecord) {
  for (const call of session.turn?.tool_calls ?? []) {
    if (call.closed || call.result === undefined) continue;
    session.messages.push({
      role: 'tool',
      content: call.result,
      tool_call_id: call.call_id,
      name: call.name,
      status: resultStatus[call.status],
      is_error: call.is_error ?? false,
    });
    call.closed = true;
  }
}

export const openCalls = (turn: TurnState | null) => (turn?.tool_calls ?? []).filter((call) => !call.closed);
export const pendingCalls = (turn: TurnState | null) => openCalls(turn).filter((call) => call.status === 'pending');

/** Ends the session's turn, remembering how its calls ended (the latest 100 calls). */
export function endTurn(session: SessionRecord) {
  for (const call of session.turn?.tool_calls ?? []) {
    const { request_id, status, name, server, decided_by, original_arguments } = call;
    session.recent_calls.push({
      request_id,
      status,
      name,
      server,
      ...(decided_by ? { decided_by } : {}),
      ...(original_arguments ? { arguments: call.arguments, original_arguments } : {}),
    });
  }
  session.recent_calls.splice(0, Math.max(0, session.recent_calls.length - 100));
  session.turn = null;
}

// Calls that will never run: a late approval is told they were not approved.
const deniedStatuses: ReadonlySet<CallStatus> = new Set(['denied', 'expired', 'not_run']);

/**
 * The pending call a decision on `requestId` applies to, or why it cannot: 404 `unknown_request`,
 * 410 `approval_expired`, or 409 `already_decided` naming how it was decided and stands now.
 */
export function decisionTarget(
  session: SessionRecord,
  requestId: string,
): { call: ToolCallState } | { error: AppError } {
  const call = session.turn?.tool_calls.find((candidate) => candidate.request_id === requestId);
  const status = call?.status ?? session.recent_calls.find((past) => past.request_id === requestId)?.status;
  if (status === undefined) {
    return { error: new AppError('unknown_request', `No tool call ${requestId} in this session.`) };
  }
  if (status === 'expired') {
    return { error: new AppError('approval_expired', `The approval of ${requestId} expired (--approval-ttl).`) };
  }
  if (!call || status !== 'pending') {
    const decision = deniedStatuses.has(status) ? 'denied' : 'approved';
    const message = `The tool call ${requestId} was already decided.`;
    return { error: new AppError('already_decided', message, { request_id: requestId, decision, status }) };
  }
  return { call };
}
