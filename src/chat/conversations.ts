import type { ApprovalNotifier } from '../approvals/approval-notifier.js';
import type { ApprovalSettings } from '../approvals/tool-calls.js';
import type { Clock } from '../clock.js';
import type { ChatModel } from '../llm/chat-model.js';
import type { Provider } from '../llm/provider.js';
import type { TurnObserver } from '../metrics/metered-turns.js';
import type { DirectoryGuard } from '../sessions/directory-guard.js';
import type { SessionRecord } from '../sessions/session-record.js';
import { createSessionService, type SessionDefaults } from '../sessions/session-service.js';
import type { SessionSettings } from '../sessions/session-settings.js';
import type { SessionStore } from '../store/session-store.js';
import type { ToolProvider } from '../tools/tool-provider.js';
import { eventFrame, parseEventId } from './event-frame.js';
import { createLoggedTurns } from './logged-turns.js';
import { recoveringStore } from './recover-turn.js';
import { createTurnChannels } from './turn-channels.js';
import { type CoordinatorMessage, createLocalCoordinator, type TurnCoordinator } from './turn-coordinator.js';
import type { TurnResponse } from './turn-events.js';
import { createTurnFeeds, type TurnFeed } from './turn-feeds.js';
import { maxUnsavedEvents } from './turn-log-writer.js';
import { createTurnRegistry } from './turn-registry.js';
import { type CallDecision, createTurnService, type Decider, type RejectedDecision } from './turn-service.js';

export interface ConversationsSettings extends ApprovalSettings {
  /** What a new session starts with. */
  defaults: SessionDefaults;
  /** Idle time after which a session is gone (milliseconds). */
  sessionTtl: number;
  /** Whether a request must name its session (no default session). */
  requireSessionId: boolean;
  /** Sessions one client address may start a minute (0: no limit). */
  sessionsPerMinute: number;
  /** Most characters of history a session keeps (oldest whole exchanges dropped). */
  maxHistoryChars: number;
  maxToolRounds: number;
  maxToolResultChars: number;
  /** How long streams wait on approvals before `done` (0: they end at once). */
  approvalTimeout: number;
  /** How long a turn runs on with nobody following before it is stopped (0: stopped at once). */
  resumeGrace: number;
  /** The longest silence on a stream before a keep-alive. */
  keepAlive: number;
  /** The most streams that may follow one session's turn at once. */
  maxFollowers: number;
}

export interface ConversationsOptions {
  store: SessionStore;
  directories: DirectoryGuard;
  /** The model adapter of each provider. */
  models: (provider: Provider) => ChatModel;
  tools: ToolProvider;
  settings: ConversationsSettings;
  clock: Clock;
  newSessionId: () => string;
  newRequestId: () => string;
  /** This run of the server, marked on the turns it runs (a random id when absent; the coordinator's `instance` when given). */
  runner?: string;
  /**
   * How the servers sharing the store agree on who runs each session's turn and reach each other
   * (a Redis coordinator); absent, this server is alone (`createLocalCoordinator`). A shared
   * coordinator recovers a turn whose runner's lease is gone when it is read (`recoveringStore`).
   */
  coordinator?: TurnCoordinator;
  /**
   * Whether this server, alone, is the only one running its sessions' turns (a Node or Bun process
   * on its own store, a session's Durable Object): then a turn marked running by another run of it
   * was cut off by a restart and is recovered when read (`recoveringStore`). Never where several
   * processes run turns on one store at once without a shared coordinator (a plain Worker, the
   * Workers front).
   */
  recoverInterruptedTurns?: boolean;
  /** Told of turns starting, running and stopping (metrics, traces). */
  observer?: TurnObserver;
  /** Told of each call that starts to wait for a human (the approval webhook); none when absent. */
  notifier?: ApprovalNotifier;
}

export type { Following, TurnFeed } from './turn-feeds.js';

/** What `decide` did with the decisions of one `/approve`. */
export type DecideOutcome =
  /** Calls of the step still wait for a decision: the response names the next one. */
  | { kind: 'waiting'; response: TurnResponse; rejected: RejectedDecision[] }
  /** The step is decided; its continuation went to a stream that waits for it, or waits for a later `follow`. */
  | {
      kind: 'accepted';
      delivered: 'stream' | 'deferred';
      request_id: string;
      status: 'approved' | 'denied';
      rejected: RejectedDecision[];
    }
  /** The step is decided and the turn goes on: follow it. */
  | { kind: 'continued'; feed: TurnFeed; rejected: RejectedDecision[] };

/**
 * The one owner of a session's turns: starting one, deciding its tool calls, following its events
 * and stopping it. Routes and runtime hosts (a Durable Object, a future multi-instance runner) call
 * this façade only; the lock, the registry of running turns and the event channels stay inside.
 * Every method takes the session id a request named, or undefined for the default session.
 */
export function createConversations(options: ConversationsOptions) {
  const { settings, clock } = options;
  const coordinator = options.coordinator ?? createLocalCoordinator(options.runner);
  const runner = coordinator.instance;
  const turns = createTurnRegistry(clock);
  /**
   * Whether a turn marked running is run by nobody: alone, when another run of this server marked
   * it; shared, when the lease of the server that marked it is gone (or is this process's own,
   * taken for a new run: it does not run that one).
   */
  const abandoned = coordinator.shared
    ? async (record: SessionRecord) => {
        const marked = record.turn?.runner;
        if (!marked || turns.isRunning(record.id)) return false;
        return service.holdsLease(record.id) || (await coordinator.holder(record.id)) !== marked;
      }
    : options.recoverInterruptedTurns
      ? (record: SessionRecord) => record.turn?.runner !== runner
      : undefined;
  const store = abandoned ? recoveringStore(options.store, abandoned, settings.sessionTtl) : options.store;
  const sessions = createSessionService({
    store,
    directories: options.directories,
    defaults: settings.defaults,
    ttlMilliseconds: settings.sessionTtl,
    requireSessionId: settings.requireSessionId,
    sessionsPerMinute: settings.sessionsPerMinute,
    maxHistoryChars: settings.maxHistoryChars,
    newSessionId: options.newSessionId,
    clock,
  });
  const channels = createTurnChannels({
    approvalTimeout: settings.approvalTimeout,
    resumeGrace: settings.resumeGrace,
    keepAlive: settings.keepAlive,
    maxFollowers: settings.maxFollowers,
    clock,
    log: store.events,
    coordinator,
  });
  const service = createTurnService({
    sessions,
    turns,
    models: options.models,
    tools: options.tools,
    directories: options.directories,
    settings,
    newRequestId: options.newRequestId,
    runner,
    coordinator,
    clock,
    observer: options.observer,
    notifier: options.notifier,
  });
  const logged = createLoggedTurns({ store, channels, coordinator, clock });

  const { runFeed, attachFeed, replayFeed } = createTurnFeeds(channels, logged);

  /** Runs here the continuation of a step whose stream waits here, handed over by the server that decided it. */
  const continueHere = async (id: string) => {
    if (!channels.hasWaitingStream(id)) return;
    const run = await service.resume(id);
    if (run) channels.run(run, undefined, await logged.firstIndex(run));
  };

  coordinator.onMessage((message: CoordinatorMessage) => {
    if (message.type === 'stop') service.stopHere(message.session_id);
    else void continueHere(message.session_id).catch(() => undefined);
  });

  /** Hands a decided step to the stream that waits for it: here, or on the server that said one waits there. */
  const continuation = async (id: string): Promise<'here' | 'elsewhere' | undefined> => {
    if (channels.hasWaitingStream(id)) return 'here';
    const waiter = await coordinator.waiter(id);
    if (waiter === undefined || waiter === runner) return undefined;
    return (await coordinator.send(waiter, { type: 'continue', session_id: id })) ? 'elsewhere' : undefined;
  };

  return {
    /**
     * The id of the session a request addresses, which exists: the one it names (404
     * `unknown_session` when it does not), else the default session, made with the server's
     * defaults when there is none.
     */
    async sessionId(requestedId: string | undefined): Promise<string> {
      return (await sessions.resolve(requestedId)).id;
    },

    /**
     * Starts a session with `settings` over the server's defaults; it becomes the default session.
     * 429 `rate_limited` when `client` started too many; 503 `too_many_sessions` when the store is full.
     */
    startSession(sessionSettings: SessionSettings, client?: string): Promise<SessionRecord> {
      return sessions.start(sessionSettings, client);
    },

    /** The session as it stands (expired approvals marked), and whether a turn of it runs (here or elsewhere). */
    async inspect(requestedId: string | undefined): Promise<{ record: SessionRecord; running: boolean }> {
      const inspected = await service.inspect(await sessions.resolveId(requestedId));
      // Read through the recovering store: a turn still marked has a live runner.
      const elsewhere = coordinator.shared && inspected.record.turn?.runner !== undefined;
      return { ...inspected, running: inspected.running || elsewhere };
    },

    /** A new turn with the user's input. 409 `turn_in_progress` or `approval_pending` when one is under way. */
    async start(requestedId: string | undefined, input: string): Promise<TurnFeed> {
      return runFeed(await service.start(await sessions.resolveId(requestedId), input));
    },

    /**
     * Decides pending tool calls, each as if sent alone (see `DecideOutcome`), as `decider` (default
     * `user`). A stream waiting on the step, here or on another server, takes its continuation;
     * otherwise `defer` leaves it for
     * a later `follow`.
     */
    async decide(
      requestedId: string | undefined,
      decisions: CallDecision[],
      delivery: { defer: boolean; decider?: Decider },
    ): Promise<DecideOutcome> {
      const id = await sessions.resolveId(requestedId);
      const outcome = await service.decide(id, decisions, {
        defer: delivery.defer,
        continuation: () => continuation(id),
        decider: delivery.decider,
      });
      const { rejected } = outcome;
      if (outcome.kind === 'waiting') return outcome;
      if (outcome.kind === 'continued' && !outcome.toWaitingStream) {
        return { kind: 'continued', feed: await runFeed(outcome.run), rejected };
      }
      if (outcome.kind === 'continued') channels.run(outcome.run, undefined, await logged.firstIndex(outcome.run));
      const applied = decisions.find((decision) => !rejected.some((entry) => entry.request_id === decision.request_id));
      return {
        kind: 'accepted',
        delivered: outcome.kind === 'deferred' ? 'deferred' : 'stream',
        request_id: applied?.request_id ?? '',
        status: applied?.approve ? 'approved' : 'denied',
        rejected,
      };
    },

    /**
     * The session's events after `lastEventId` (`sequence.index`), then the live rest of its turn,
     * wherever it runs. Without a usable id: with `continueDeferred`, a deferred continuation starts
     * (else the live turn is followed from its start); without it, there is nothing to follow.
     */
    async follow(
      requestedId: string | undefined,
      options: { lastEventId?: string; continueDeferred: boolean },
    ): Promise<TurnFeed> {
      const record = await sessions.resolve(requestedId);
      const after = parseEventId(options.lastEventId);
      if (options.continueDeferred && after === undefined) {
        const run = await service.resume(record.id);
        if (run) return runFeed(run);
      }
      const followed = (!after || after.sequence === record.turn?.sequence) && (await logged.mirror(record));
      if (after && !followed) {
        const missed = await logged.replay(record, after);
        if (missed) return replayFeed(record, after.sequence, missed);
      }
      return attachFeed(record, after, !options.continueDeferred);
    },

    /**
     * Stops the session's turn wherever it runs: a running one ends with `done` and `stopped` (its
     * LLM request and tools aborted), one waiting on approvals is ended with its calls denied; 409
     * `no_turn_running` when there is none.
     */
    async stop(requestedId: string | undefined): Promise<void> {
      const id = await sessions.resolveId(requestedId);
      const { done, sequence } = await service.stop(id);
      if (!done || sequence === undefined) return;
      if (channels.holdsTurn(id, sequence)) return channels.finish(id, done);
      // Streams waiting on other servers hear it from the log, past any index they had.
      const log = store.events;
      if (!coordinator.shared || !log) return;
      const last = (await log.read(id, sequence, -1)).at(-1)?.index ?? -1;
      const index = last + maxUnsavedEvents + 1;
      await log.append(id, sequence, [{ index, event: done, frame: eventFrame(done, `${sequence}.${index}`) }]);
    },

    /** Stops the shared ticker; for tests and shutdown. */
    close(): void {
      channels.close();
      logged.close();
    },
  };
}

export type Conversations = ReturnType<typeof createConversations>;
