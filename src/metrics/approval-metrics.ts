import type { Span } from '@opentelemetry/api';
import { toolKey } from '../approvals/policy.js';
import type { Clock } from '../clock.js';
import type { CallStatus, SessionRecord, ToolCallState } from '../sessions/session-record.js';
import type { ToolInfo } from '../tools/tool-provider.js';
import type { Tracing } from '../tracing/tracing.js';
import type { DecisionKind, Metrics } from './metrics.js';

export interface ApprovalMetricsOptions {
  metrics: Metrics;
  clock: Clock;
  /** Whether a `readOnlyHint` may approve a call (--auto-approve-read-only). */
  autoApproveReadOnly: boolean;
  /** With it, a span per approval wait, from the call's save as pending to its decision. */
  tracing?: Tracing;
}

/** A call waiting for a human: since when, until when, and its span. */
interface Waiting {
  since: number;
  expiresAt?: number;
  span?: Span;
}

/** The calls of a session's turn this process has seen, and those of them that wait for a human. */
interface TurnCalls {
  turn: string;
  seen: Set<string>;
  pending: Map<string, Waiting>;
}

const ranStatuses: ReadonlySet<CallStatus> = new Set(['approved', 'running', 'executed', 'failed']);
const approved = (call: { status: CallStatus; approved_by?: string }) =>
  ranStatuses.has(call.status) || (call.status === 'not_run' && call.approved_by !== undefined);

/** Sessions held before states that wait on nothing are dropped without waiting for a scrape. */
const sweepAbove = 10_000;

/**
 * Approvals as metrics, read from what is saved: every transition of a tool call (made, decided,
 * expired) is saved before anyone is told of it, so a store that watches its saves sees them all
 * without a hook in the turn. It counts pending approvals, their wait, and each decision by kind.
 * Only sessions whose turn is under way are held.
 */
export function approvalMetrics(options: ApprovalMetricsOptions) {
  const { metrics, clock } = options;
  const sessions = new Map<string, TurnCalls>();
  // The servers' rules, from the latest listing of each tool: which rule, grant or hint approved a call.
  const rules = new Map<string, ToolInfo['rule']>();

  const policyKind = (call: ToolCallState, grants: SessionRecord['grants']): DecisionKind => {
    const by = call.decided_by?.kind;
    if (by === 'rule' || by === 'list') return 'rule';
    if (by === 'grant') return 'grant';
    if (by === 'read_only_hint') return 'hint';
    // Calls saved before `decided_by` existed: from the latest listing.
    const key = toolKey(call.server, call.server_tool_name ?? call.name);
    if (rules.get(key) === 'allow') return 'rule';
    const granted = (grant: SessionRecord['grants'][number]) =>
      typeof grant !== 'string' && toolKey(grant.server, grant.tool) === key;
    if (grants.some(granted)) return 'grant';
    return options.autoApproveReadOnly ? 'hint' : 'rule';
  };

  /** An expired call waited until its expiry, however late it was found expired. */
  const decided = (kind: DecisionKind, isApproved: boolean, waiting: Waiting) => {
    const until = kind === 'expiry' ? Math.min(waiting.expiresAt ?? Infinity, clock.now()) : clock.now();
    metrics.pendingApprovals(-1);
    metrics.decision({ kind, approved: isApproved }, (until - waiting.since) / 1000);
    waiting.span?.setAttributes({
      'llm_chat.approval.kind': kind,
      'llm_chat.approval.decision': isApproved ? 'approved' : 'denied',
    });
    waiting.span?.end();
  };

  /** A turn is over (or gone): its calls still waiting ended as `recent_calls` says. */
  const settle = (id: string, state: TurnCalls, record?: SessionRecord) => {
    for (const [requestId, waiting] of state.pending) {
      const status = record?.recent_calls.find((past) => past.request_id === requestId)?.status;
      if (status === undefined || status === 'pending') {
        metrics.pendingApprovals(-1);
        waiting.span?.end();
      } else decided(status === 'expired' ? 'expiry' : 'user', approved({ status }), waiting);
    }
    sessions.delete(id);
  };

  const observe = (record: SessionRecord) => {
    const turn = record.turn;
    let state = sessions.get(record.id);
    if (state && state.turn !== turn?.request_id) {
      settle(record.id, state, record);
      state = undefined;
    }
    if (!turn) return;
    if (!state) {
      // A turn first seen with calls already made (after a sweep, a restart) was counted before: adopt them.
      state = {
        turn: turn.request_id,
        seen: new Set(turn.tool_calls.map((call) => call.request_id)),
        pending: new Map(),
      };
      sessions.set(record.id, state);
      if (sessions.size > sweepAbove) sweep(true);
    }
    for (const call of turn.tool_calls) {
      const waiting = state.pending.get(call.request_id);
      if (waiting && call.status !== 'pending') {
        state.pending.delete(call.request_id);
        decided(call.status === 'expired' ? 'expiry' : 'user', approved(call), waiting);
      }
      if (state.seen.has(call.request_id)) continue;
      state.seen.add(call.request_id);
      if (call.status === 'pending') {
        const tool = call.server_tool_name ?? call.name;
        const span = options.tracing?.tracer.startSpan(
          `approval wait ${tool}`,
          { attributes: { 'gen_ai.tool.name': tool, 'llm_chat.mcp.server': call.server } },
          options.tracing.sessionParent(record.id),
        );
        state.pending.set(call.request_id, { since: clock.now(), expiresAt: call.expires_at, span });
        metrics.pendingApprovals(1);
      } else if (call.approved_by === 'policy') {
        metrics.decision({ kind: policyKind(call, record.grants), approved: true });
      } else if (call.status === 'denied') {
        metrics.decision({ kind: 'rule', approved: false });
      }
    }
  };

  /**
   * Calls past their approval's expiry count as expired now, though no one has read them since; a
   * turn left with nothing pending then is dropped (its session may be gone). `crowded`: every
   * turn waiting on nothing is dropped (one under way is adopted again at its next save).
   */
  const sweep = (crowded = false) => {
    const now = clock.now();
    for (const [id, state] of sessions) {
      const expired = [...state.pending].filter(([, waiting]) => (waiting.expiresAt ?? now + 1) <= now);
      for (const [requestId, waiting] of expired) {
        state.pending.delete(requestId);
        decided('expiry', false, waiting);
      }
      if (state.pending.size === 0 && (crowded || expired.length > 0)) sessions.delete(id);
    }
  };

  return {
    /** Told every save, once it is saved. */
    saved: observe,
    /** Told every delete, once it is done. */
    deleted(id: string) {
      const state = sessions.get(id);
      if (state) settle(id, state);
    },
    /** Told every tool listing: the servers' rules. */
    listed(tools: readonly ToolInfo[]) {
      for (const tool of tools) rules.set(toolKey(tool.server, tool.serverToolName), tool.rule);
    },
    /** Before a scrape: expires what is past its expiry. */
    sweep: () => sweep(),
  };
}
