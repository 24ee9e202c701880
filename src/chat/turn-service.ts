import type { ApprovalNotifier } from '../approvals/approval-notifier.js';
import { checkEditedArguments } from '../approvals/edited-arguments.js';
import { argumentsHash } from '../approvals/fingerprint.js';
import { liveGrants } from '../approvals/grants.js';
import {
  applyDecision,
  closeStep,
  type Decision,
  endTurn,
  expireCalls,
  pendingCalls,
  settleOpenCalls,
} from '../approvals/tool-calls.js';
import type { Clock } from '../clock.js';
import { AppError } from '../errors.js';
import type { ChatModel } from '../llm/chat-model.js';
import type { Provider } from '../llm/provider.js';
import type { TurnObserver } from '../metrics/metered-turns.js';
import type { DirectoryGuard } from '../sessions/directory-guard.js';
import type { CallStatus, SessionRecord, ToolCallState } from '../sessions/session-record.js';
import type { SessionService } from '../sessions/session-service.js';
import type { ToolProvider } from '../tools/tool-provider.js';
import { advanceTurn, runTurn, type TurnDependencies, type TurnSettings } from './run-turn.js';
import type { TurnEvent, TurnResponse } from './turn-events.js';
import type { TurnRegistry } from './turn-registry.js';
import { turnResponse } from './turn-response.js';

export interface TurnServiceOptions {
  sessions: SessionService;
  turns: TurnRegistry;
  models: (provider: Provider) => ChatModel;
  tools: ToolProvider;
  /** Where the path arguments of calls point, for the servers' rules. */
  directories: Pick<DirectoryGuard, 'locate'>;
  settings: TurnSettings;
  newRequestId: () => string;
  /** This run of the server, marked on the turns it runs. */
  runner: string;
  clock: Clock;
  /** Told of turns starting, running and stopping (metrics, traces). */
  observer?: TurnObserver;
  /** Told of each call that starts to wait for a human (the approval webhook). */
  notifier?: ApprovalNotifier;
}

// Calls that will never run: a late approval is told they were not approved.
const deniedStatuses: ReadonlySet<CallStatus> = new Set(['denied', 'expired', 'not_run']);

/** Who decides: the holder of the chat token (`user`) or of the approver token (`approver`). */
export type Decider = 'user' | 'approver';

/** A decision on one call, as `/approve` receives it. */
export interface CallDecision extends Decision {
  request_id: string;
}

/** A run of a session's turn (its start, or a continuation) that must be consumed to the end. */
export interface TurnRun {
  sessionId: string;
  /** The turn's number in the session (the first part of its event ids). */
  sequence: number;
  /** The session's stream default. */
  stream: boolean;
  events: AsyncGenerator<TurnEvent>;
  /** Aborting it stops the run. */
  controller: AbortController;
  /** To be called once the events are consumed (or dropped): frees the session for the next run. */
  finish(): void;
}

/** A decision that did not apply, and why. */
export interface RejectedDecision {
  request_id: string;
  error: AppError;
}

export type DecisionOutcome =
  /** Calls of the step still wait: the response names the next one. */
  | { kind: 'waiting'; response: TurnResponse; rejected: RejectedDecision[] }
  /** The step is decided and the turn goes on in `run`; `toWaitingStream` when a stream waits for it. */
  | { kind: 'continued'; run: TurnRun; toWaitingStream: boolean; rejected: RejectedDecision[] }
  /** The step is decided; the turn goes on when asked (`resume`). */
  | { kind: 'deferred'; rejected: RejectedDecision[] };

/**
 * The transitions of a session's turn (start, decide, resume, stop), each under the session's
 * lock so that every one has exactly one winner. Ids are resolved by the caller; a missing session
 * is 404 `unknown_session`. A started run's events must be consumed to the end and then `finish()`
 * called: that is what releases the session for the next turn.
 */
export function createTurnService(options: TurnServiceOptions) {
  const { sessions, turns, clock } = options;

  const dependencies = (session: SessionRecord, controller: AbortController): TurnDependencies => ({
    model: options.models(session.provider),
    tools: options.tools,
    directories: options.directories,
    settings: options.settings,
    persist: sessions.save,
    newRequestId: options.newRequestId,
    runner: options.runner,
    now: clock.now,
    notifier: options.notifier,
    signal: controller.signal,
  });

  /** Claims the session and runs `advance` on it (the caller holds the session's lock). */
  const begin = (
    session: SessionRecord,
    advance: (session: SessionRecord, dependencies: TurnDependencies) => AsyncGenerator<TurnEvent>,
  ): TurnRun => {
    const controller = turns.begin(session.id);
    const advanced = advance(session, dependencies(session, controller));
    const events = options.observer?.run(session, advanced, controller.signal) ?? advanced;
    return {
      sessionId: session.id,
      sequence: session.turn?.sequence ?? 0,
      stream: session.stream,
      events,
      controller,
      finish: () => turns.end(session.id, controller),
    };
  };

  /** The pending call a decision on `requestId` applies to, or why it cannot apply. */
  const target = (session: SessionRecord, requestId: string): { call: ToolCallState } | { error: AppError } => {
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
  };

  /**
   * 400 `invalid_request` when the edited arguments of an approval that would apply do not fit
   * the tool's input schema or are refused by the configuration: nothing is applied then. Each
   * detail names the decision's `request_id` and the field, from the decision (`arguments.path`).
   */
  const checkEdits = async (session: SessionRecord, decisions: CallDecision[]) => {
    const edits = decisions.flatMap((decision) => {
      const found = decision.approve && decision.arguments ? target(session, decision.request_id) : undefined;
      return found && 'call' in found ? [{ decision, call: found.call, args: decision.arguments ?? {} }] : [];
    });
    if (edits.length === 0) return;
    const tools = await options.tools.list(session.current_directory);
    const locate = (path: string) => options.directories.locate(session.current_directory, path);
    const details = [];
    for (const { decision, call, args } of edits) {
      for (const issue of await checkEditedArguments(call, args, tools, locate)) {
        const path = issue.path ? `arguments.${issue.path}` : 'arguments';
        details.push({ request_id: decision.request_id, path, message: issue.message });
      }
    }
    if (details.length === 0) return;
    const summary = details.map((detail) => `${detail.path}: ${detail.message}`).join('; ');
    throw new AppError('invalid_request', `Invalid request: ${summary}`, details);
  };

  return {
    /** A new turn with the user's input: 409 while a turn runs or approvals are pending. */
    start(id: string, input: string): Promise<TurnRun> {
      return sessions.locked(id, async () => {
        const session = await sessions.load(id);
        turns.assertIdle(id);
        const expired = expireCalls(session.turn, clock.now());
        const pending = pendingCalls(session.turn);
        if (pending.length > 0) {
          if (expired) await sessions.save(session);
          throw new AppError('approval_pending', 'Decide the pending tool calls with POST /approve first.', {
            request_ids: pending.map((call) => call.request_id),
          });
        }
        if (session.turn) {
          // A step whose every call was decided (or expired) but never continued: its results go to
          // the history before the new input, so the model is told.
          settleOpenCalls(session.turn, 'superseded by a new request');
          closeStep(session);
          endTurn(session);
        }
        options.observer?.started(session);
        return begin(session, (record, turnDependencies) => runTurn(record, input, turnDependencies));
      });
    },

    /**
     * Applies decisions, each as if sent alone. Unknown: 404 `unknown_request`; expired: 410
     * `approval_expired`; decided before: 409 `already_decided`. When no decision applies, the
     * first such error is thrown; otherwise the others are reported with the outcome. A fully
     * decided step continues at once when `streamWaiting()` (asked under the lock) says a stream
     * waits for it, else when not `defer`.
     */
    decide(
      id: string,
      decisions: CallDecision[],
      delivery: { defer: boolean; streamWaiting: () => boolean; decider?: Decider },
    ): Promise<DecisionOutcome> {
      return sessions.locked(id, async () => {
        let session = await sessions.load(id);
        // A decision that comes the instant approval_required went out may find the run that asked
        // still handing the session back: wait for that (briefly) rather than refuse.
        const targetsPending = decisions.some((decision) =>
          pendingCalls(session.turn).some((call) => call.request_id === decision.request_id),
        );
        if (turns.isRunning(id) && targetsPending) {
          await turns.idle(id, 2000);
          session = await sessions.load(id);
        }
        let changed = expireCalls(session.turn, clock.now());
        await checkEdits(session, decisions);
        const rejected: RejectedDecision[] = [];
        for (const decision of decisions) {
          const found = target(session, decision.request_id);
          if ('error' in found) {
            rejected.push({ request_id: decision.request_id, error: found.error });
            continue;
          }
          // Still not handed back after the wait; nothing is changed.
          turns.assertIdle(id);
          // Hashed only for a grant of the same arguments: the common decision saves without a pause.
          const same = typeof decision.remember === 'object' && decision.remember.arguments === 'same';
          const ran = same ? await argumentsHash(decision.arguments ?? found.call.arguments) : undefined;
          applyDecision(session, found.call, decision, { now: clock.now(), argumentsHash: ran });
          changed = true;
          found.call.decider = delivery.decider ?? 'user';
        }
        if (changed) await sessions.save(session);
        if (rejected.length === decisions.length) throw rejected[0].error;
        const turn = session.turn;
        if (!turn) throw new AppError('no_turn_running', 'The turn of these calls has ended.');
        if (pendingCalls(turn).length > 0) {
          return { kind: 'waiting', response: turnResponse(session, turn, turn.message), rejected };
        }
        const toWaitingStream = delivery.streamWaiting();
        if (delivery.defer && !toWaitingStream) return { kind: 'deferred', rejected };
        return { kind: 'continued', run: begin(session, advanceTurn), toWaitingStream, rejected };
      });
    },

    /**
     * Continues a turn whose open step is fully decided but was not continued (a deferred
     * approval); undefined when there is none or a turn runs.
     */
    resume(id: string): Promise<TurnRun | undefined> {
      return sessions.locked(id, async () => {
        if (turns.isRunning(id)) return undefined;
        const session = await sessions.load(id);
        if (expireCalls(session.turn, clock.now())) await sessions.save(session);
        const open = (session.turn?.tool_calls ?? []).filter((call) => !call.closed);
        if (open.length === 0 || pendingCalls(session.turn).length > 0) return undefined;
        return begin(session, advanceTurn);
      });
    },

    /**
     * Stops the running turn (its run then ends with `done` and `stopped`), or ends one waiting on
     * approvals, returning that turn's final `done`; 409 `no_turn_running` otherwise.
     */
    stop(id: string): Promise<{ done?: TurnEvent }> {
      return sessions.locked(id, async () => {
        const running = turns.controller(id);
        if (running) {
          running.abort(new Error('stopped by user'));
          return {};
        }
        const session = await sessions.load(id);
        const turn = session.turn;
        if (!turn) throw new AppError('no_turn_running', 'No turn of this session is running.');
        settleOpenCalls(turn, 'stopped by user');
        closeStep(session);
        endTurn(session);
        await sessions.save(session);
        options.observer?.stoppedWaiting(session);
        return { done: { event: 'done', data: { ...turnResponse(session, turn, turn.message), stopped: true } } };
      });
    },

    /** The session as it stands (expired approvals marked, expired grants left out), and whether a turn of it runs. */
    inspect(id: string): Promise<{ record: SessionRecord; running: boolean }> {
      return sessions.locked(id, async () => {
        const record = await sessions.load(id);
        if (expireCalls(record.turn, clock.now())) await sessions.save(record);
        // What the views show: the grants still in force (saved so at the next step).
        record.grants = liveGrants(record.grants, [], clock.now());
        return { record, running: turns.isRunning(id) };
      });
    },
  };
}

export type TurnService = ReturnType<typeof createTurnService>;
