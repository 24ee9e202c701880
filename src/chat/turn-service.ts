import type { ApprovalNotifier } from '../approvals/approval-notifier.js';
import { checkEditedArguments } from '../approvals/edited-arguments.js';
import { argumentsHash } from '../approvals/fingerprint.js';
import { liveGrants } from '../approvals/grants.js';
import {
  applyDecision,
  closeStep,
  type Decision,
  decisionTarget,
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
import type { SessionRecord } from '../sessions/session-record.js';
import type { SessionService } from '../sessions/session-service.js';
import type { ToolProvider } from '../tools/tool-provider.js';
import { advanceTurn, runTurn, type TurnDependencies, type TurnSettings } from './run-turn.js';
import type { TurnCoordinator, TurnLease } from './turn-coordinator.js';
import type { TurnEvent, TurnResponse } from './turn-events.js';
import { createTurnLeases, handOverTimeout } from './turn-leases.js';
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
  /** This run of the server, marked on the turns it runs (the coordinator's `instance`). */
  runner: string;
  /** Who runs each session's turn among the servers sharing the store; alone, `createLocalCoordinator`. */
  coordinator: TurnCoordinator;
  clock: Clock;
  /** Told of turns starting, running and stopping (metrics, traces). */
  observer?: TurnObserver;
  /** Told of each call that starts to wait for a human (the approval webhook). */
  notifier?: ApprovalNotifier;
}

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
  /** Whether it goes on with a turn that already ran (a continuation), rather than starting one. */
  continues: boolean;
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
  /** The step is decided and went to the server where a stream waits for it, which runs the continuation. */
  | { kind: 'handed'; rejected: RejectedDecision[] }
  /** The step is decided; the turn goes on when asked (`resume`). */
  | { kind: 'deferred'; rejected: RejectedDecision[] };

/**
 * The transitions of a session's turn (start, decide, resume, stop), each under the session's
 * lock so that every one has exactly one winner. Ids are resolved by the caller; a missing session
 * is 404 `unknown_session`. A run holds the session's lease (`TurnCoordinator.claim`) from before
 * its first read to after its last save: one server at a time runs a session's turn. A started
 * run's events must be consumed to the end and then `finish()` called: that is what releases the
 * session for the next turn.
 */
export function createTurnService(options: TurnServiceOptions) {
  const { sessions, turns, clock, coordinator } = options;
  const leases = createTurnLeases(coordinator, clock);

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

  /** Claims the session and runs `advance` on it (the caller holds the session's lock and lease). */
  const begin = (
    session: SessionRecord,
    lease: TurnLease,
    advance: (session: SessionRecord, dependencies: TurnDependencies) => AsyncGenerator<TurnEvent>,
  ): TurnRun => {
    const controller = turns.begin(session.id);
    // A lost lease ends the run with its reason: another server may take the turn over.
    const onLost = () => controller.abort(lease.lost.reason);
    if (lease.lost.aborted) onLost();
    else lease.lost.addEventListener('abort', onLost, { once: true });
    const advanced = advance(session, dependencies(session, controller));
    const events = options.observer?.run(session, advanced, controller.signal) ?? advanced;
    return {
      sessionId: session.id,
      sequence: session.turn?.sequence ?? 0,
      stream: session.stream,
      events,
      controller,
      continues: advance === advanceTurn,
      finish: () => {
        lease.lost.removeEventListener('abort', onLost);
        turns.end(session.id, controller);
        lease.release();
      },
    };
  };

  /** Whether the session's open step is fully decided, so that its continuation can run. */
  const continuable = (session: SessionRecord) =>
    (session.turn?.tool_calls ?? []).some((call) => !call.closed) && pendingCalls(session.turn).length === 0;

  /**
   * 400 `invalid_request` when the edited arguments of an approval that would apply do not fit
   * the tool's input schema or are refused by the configuration: nothing is applied then. Each
   * detail names the decision's `request_id` and the field, from the decision (`arguments.path`).
   */
  const checkEdits = async (session: SessionRecord, decisions: CallDecision[]) => {
    const edits = decisions.flatMap((decision) => {
      const found = decision.approve && decision.arguments ? decisionTarget(session, decision.request_id) : undefined;
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
    /** Whether this process holds the session's lease (it runs its turn, or is about to). */
    holdsLease: leases.holds,

    /** A new turn with the user's input: 409 while a turn runs (here or elsewhere) or approvals are pending. */
    start(id: string, input: string): Promise<TurnRun> {
      return sessions.locked(id, async () => {
        turns.assertIdle(id);
        const inProgress = () => {
          throw new AppError('turn_in_progress', 'A turn of this session is running; wait for it or POST /stop.');
        };
        return leases.with(
          id,
          async (lease) => {
            const session = await sessions.load(id);
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
            return begin(session, lease, (record, turnDependencies) => runTurn(record, input, turnDependencies));
          },
          inProgress,
        );
      });
    },

    /**
     * Applies decisions, each as if sent alone. Unknown: 404 `unknown_request`; expired: 410
     * `approval_expired`; decided before: 409 `already_decided`. When no decision applies, the
     * first such error is thrown; otherwise the others are reported with the outcome. A fully
     * decided step goes (asked under the lock, once the decisions are saved) to the stream that
     * waits for it: `continuation()` says 'here', or 'elsewhere' once it handed it to the server of
     * that stream; with none, it continues at once unless `defer`. When another server keeps the
     * session past a brief wait, the continuation is left for a later `resume` (deferred).
     */
    decide(
      id: string,
      decisions: CallDecision[],
      delivery: {
        defer: boolean;
        continuation: () => Promise<'here' | 'elsewhere' | undefined>;
        decider?: Decider;
      },
    ): Promise<DecisionOutcome> {
      return sessions.locked(id, async () => {
        let session = await sessions.load(id);
        // A decision that comes the instant approval_required went out may find the run that asked
        // still handing the session back: wait for that (briefly) rather than refuse.
        const targetsPending = decisions.some((decision) =>
          pendingCalls(session.turn).some((call) => call.request_id === decision.request_id),
        );
        if (turns.isRunning(id) && targetsPending) {
          await turns.idle(id, handOverTimeout);
          session = await sessions.load(id);
        }
        let changed = expireCalls(session.turn, clock.now());
        await checkEdits(session, decisions);
        const rejected: RejectedDecision[] = [];
        for (const decision of decisions) {
          const found = decisionTarget(session, decision.request_id);
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
        const where = await delivery.continuation();
        if (where === 'elsewhere') return { kind: 'handed', rejected };
        if (delivery.defer && !where) return { kind: 'deferred', rejected };
        const deferred: DecisionOutcome = { kind: 'deferred', rejected };
        const continued = async (lease: TurnLease): Promise<DecisionOutcome> => {
          // What was saved above, unless the server that let the session go saved after it.
          const saved = await sessions.load(id);
          if (!continuable(saved)) throw new AppError('no_turn_running', 'The turn of these calls has ended.');
          return {
            kind: 'continued',
            run: begin(saved, lease, advanceTurn),
            toWaitingStream: where === 'here',
            rejected,
          };
        };
        return leases.with(id, continued, () => deferred, true);
      });
    },

    /**
     * Continues a turn whose open step is fully decided but was not continued (a deferred
     * approval); undefined when there is none or a turn runs (here or elsewhere).
     */
    resume(id: string): Promise<TurnRun | undefined> {
      return sessions.locked(id, async () => {
        if (turns.isRunning(id)) return undefined;
        const read = await sessions.load(id);
        if (expireCalls(read.turn, clock.now())) await sessions.save(read);
        if (!continuable(read)) return undefined;
        const resumed = async (lease: TurnLease) => {
          const session = await sessions.load(id);
          if (continuable(session)) return begin(session, lease, advanceTurn);
          lease.release();
          return undefined;
        };
        return leases.with(id, resumed, () => undefined);
      });
    },

    /**
     * Stops the running turn (its run then ends with `done` and `stopped`), here or, through the
     * coordinator, on the server that runs it; or ends one waiting on approvals, returning that
     * turn's final `done`; 409 `no_turn_running` otherwise.
     */
    stop(id: string): Promise<{ done?: TurnEvent; sequence?: number }> {
      return sessions.locked(id, async () => {
        const running = turns.controller(id);
        if (running) {
          running.abort(new Error('stopped by user'));
          return {};
        }
        const holder = await coordinator.holder(id);
        if (holder !== undefined && holder !== options.runner) {
          // Told or not (a holder that died leaves its turn to be recovered), the turn does not go on.
          await coordinator.send(holder, { type: 'stop', session_id: id });
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
        const done: TurnEvent = {
          event: 'done',
          data: { ...turnResponse(session, turn, turn.message), stopped: true },
        };
        return { done, sequence: turn.sequence };
      });
    },

    /** Stops the run of the session's turn in this process, if one runs here (a stop sent from another server). */
    stopHere(id: string): void {
      turns.controller(id)?.abort(new Error('stopped by user'));
    },

    /** The session as it stands (expired approvals marked, expired grants left out), and whether a turn of it runs here. */
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
