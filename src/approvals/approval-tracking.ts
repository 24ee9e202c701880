import type { CallStatus, SessionRecord, ToolCallState } from '../sessions/session-record.js';
import type { SessionStore } from '../store/session-store.js';
import { type AuditDecider, type AuditEntry, maxAuditEntriesPerSession } from './audit-entry.js';
import { argumentsHash } from './fingerprint.js';
import { type PendingCall, pendingCallsOf } from './pending-call.js';

/** A call that waited for a person and no longer does. */
export interface DecidedCall {
  session_id: string;
  request_id: string;
  tool: { name: string; server: string };
  status: 'approved' | 'denied' | 'expired';
  decided_by: AuditDecider;
  /** Epoch milliseconds. */
  decided_at: number;
  reason?: string;
}

/** What one save of a session changed for approvers, once it is saved. */
export interface ApprovalChanges {
  sessionId: string;
  /** Calls that started to wait for a decision. */
  requested: PendingCall[];
  /** Calls that waited and were decided (or expired, or ended with their turn). */
  decided: DecidedCall[];
  /** The audit entries the save added to the session. */
  audited: AuditEntry[];
}

export interface ApprovalTrackingOptions {
  now: () => number;
  /** Told of each save that changed something for approvers, after it was saved; must not throw. */
  onChange: (changes: ApprovalChanges) => void;
  /** Told of every save once it is saved, and of every delete once done (the approval metrics). */
  saved?: (record: SessionRecord) => void;
  deleted?: (id: string) => void;
}

/** How a call stood when its record was read or last saved through the tracking store. */
interface Seen {
  call: ToolCallState;
  status: CallStatus;
  /** When this process first saved it running (a duration needs both ends in one process). */
  startedAt?: number;
}

const finalStatuses: ReadonlySet<CallStatus> = new Set(['denied', 'expired', 'executed', 'failed', 'not_run']);

/** Whether anyone decided the call: calls the model made unrunnable (unknown tool, bad arguments, too many rounds) were not. */
const wasDecided = (call: ToolCallState) =>
  call.status !== 'pending' && (call.status !== 'not_run' || call.approved_by !== undefined);

const isAskRule = (call: ToolCallState) => call.decided_by?.kind === 'rule' && call.decided_by.rule.decision === 'ask';

/** Who decided a call that no longer waits. */
function deciderOf(call: ToolCallState): AuditDecider {
  if (call.decider) return { kind: call.decider };
  if (call.status === 'expired') return { kind: 'expiry' };
  if (call.decided_by && !isAskRule(call)) return call.decided_by;
  // A person's approval saved before calls kept who decided.
  if (call.approved_by === 'user') return { kind: 'user' };
  return { kind: 'turn_end' };
}

const decisionOf = (call: ToolCallState) =>
  call.status === 'expired' ? 'expired' : call.status === 'denied' ? 'denied' : 'approved';

async function auditEntry(sessionId: string, call: ToolCallState, time: number, startedAt?: number) {
  const ran = call.status === 'executed' || call.status === 'failed';
  const entry: AuditEntry = {
    session_id: sessionId,
    request_id: call.request_id,
    tool: call.name,
    server: call.server,
    arguments_sha256: await argumentsHash(call.arguments),
    decision: decisionOf(call),
    decided_by: deciderOf(call),
    ...(call.decided_by && isAskRule(call) ? { asked_by: call.decided_by } : {}),
    ...(call.reason !== undefined && call.status !== 'not_run' ? { reason: call.reason } : {}),
    outcome: call.status as AuditEntry['outcome'],
    ...(ran && startedAt !== undefined ? { duration_ms: Math.max(0, time - startedAt) } : {}),
    decided_at: new Date(call.decided_at ?? time).toISOString(),
    recorded_at: new Date(time).toISOString(),
  };
  return entry;
}

/**
 * The store as the turn service uses it, watching what each save does to tool calls: it stamps a
 * call's `created_at` when it is first saved waiting and `decided_at` when first saved decided,
 * appends an audit entry to the session (`record.audit`, its newest `maxAuditEntriesPerSession`)
 * in the same save when a decided call's fate is sealed (denied, expired, or approved and then run
 * or known not to run), and, once the save succeeded, tells `onChange`. A save that fails changes
 * nothing and tells nothing: the winner of a race is the only one audited.
 *
 * It compares each record with how that same object stood when read or last saved here, so it sees
 * calls a turn's end dropped from the record too. Records saved without being read here (a new
 * session) start from nothing.
 */
export function trackApprovals(store: SessionStore, options: ApprovalTrackingOptions): SessionStore {
  const seen = new WeakMap<SessionRecord, Map<string, Seen>>();

  const remember = (record: SessionRecord, started = new Map<string, number>()) => {
    const calls = new Map<string, Seen>();
    for (const call of record.turn?.tool_calls ?? []) {
      calls.set(call.request_id, { call, status: call.status, startedAt: started.get(call.request_id) });
    }
    seen.set(record, calls);
  };

  return {
    ...store,
    async delete(id) {
      await store.delete(id);
      options.deleted?.(id);
    },
    async get(id) {
      const record = await store.get(id);
      if (record) remember(record);
      return record;
    },
    async put(record, putOptions) {
      const time = options.now();
      const before = seen.get(record) ?? new Map<string, Seen>();
      const calls = new Map([...before].map(([id, { call }]) => [id, call]));
      for (const call of record.turn?.tool_calls ?? []) calls.set(call.request_id, call);
      const requested: ToolCallState[] = [];
      const decided: ToolCallState[] = [];
      const sealed: Array<{ call: ToolCallState; startedAt?: number }> = [];
      const started = new Map<string, number>();
      for (const call of calls.values()) {
        const earlier = before.get(call.request_id);
        const was = earlier?.status;
        if (call.status === 'pending') {
          if (was !== 'pending') requested.push(call);
          call.created_at ??= time;
          continue;
        }
        if (was === undefined || was === 'pending') {
          if (wasDecided(call)) call.decided_at ??= call.status === 'expired' ? (call.expires_at ?? time) : time;
          if (was === 'pending') decided.push(call);
        }
        const startedAt = call.status === 'running' && was !== 'running' ? time : earlier?.startedAt;
        if (startedAt !== undefined) started.set(call.request_id, startedAt);
        if (finalStatuses.has(call.status) && !(was && finalStatuses.has(was)) && wasDecided(call)) {
          sealed.push({ call, startedAt });
        }
      }
      const audited = await Promise.all(
        sealed.map(({ call, startedAt }) => auditEntry(record.id, call, time, startedAt)),
      );
      const previousAudit = record.audit;
      if (audited.length > 0) record.audit = [...(previousAudit ?? []), ...audited].slice(-maxAuditEntriesPerSession);
      try {
        await store.put(record, putOptions);
      } catch (error) {
        record.audit = previousAudit;
        throw error;
      }
      remember(record, started);
      options.saved?.(record);
      if (requested.length + decided.length + audited.length === 0) return;
      const pendingNow = pendingCallsOf(record);
      options.onChange({
        sessionId: record.id,
        requested: pendingNow.filter((pending) => requested.some((call) => call.request_id === pending.request_id)),
        decided: decided.map((call) => ({
          session_id: record.id,
          request_id: call.request_id,
          tool: { name: call.name, server: call.server },
          status: decisionOf(call),
          decided_by: deciderOf(call),
          decided_at: call.decided_at ?? time,
          ...(call.reason !== undefined && call.status !== 'approved' ? { reason: call.reason } : {}),
        })),
        audited,
      });
    },
  };
}
