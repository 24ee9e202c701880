import type { Clock } from '../clock.js';
import { AppError } from '../errors.js';
import type { LoggedEvent, TurnEventLog } from '../store/session-store.js';
import { type Attached, type Channel, channelSteps, type Subscriber } from './turn-channel.js';
import type { TurnCoordinator } from './turn-coordinator.js';
import type { TurnEvent } from './turn-events.js';
import { createTurnLogWriter } from './turn-log-writer.js';
import type { TurnRun } from './turn-service.js';

export type { Subscriber } from './turn-channel.js';

export { maxUnsavedEvents } from './turn-log-writer.js';

export interface TurnChannelsOptions {
  /** How long streams wait on approvals before `done` (0: they end at once). */
  approvalTimeout: number;
  /** How long a turn runs on with nobody following before it is stopped. */
  resumeGrace: number;
  /** The longest silence on a stream before a `: ping` comment. */
  keepAlive: number;
  /** The most streams that may follow one session's turn at once. */
  maxFollowers: number;
  clock: Clock;
  /**
   * Where turns' events are kept across a restart and for other servers, if anywhere. Written as
   * `createTurnLogWriter` says: never once per token.
   */
  log?: TurnEventLog;
  /**
   * The other servers sharing the sessions, when `shared`: the events of turns run elsewhere come
   * from it, and it is told of streams here waiting on approvals or following turns run elsewhere.
   */
  coordinator?: TurnCoordinator;
}

export type AttachResult = 'following' | 'replayed' | 'nothing';

/**
 * The in-process hub between running turns and their followers. A run's events are encoded once,
 * kept in the turn's log (for `Last-Event-ID` replay) and written to each follower; the turn does
 * not depend on any connection. A turn run by another server is followed through the events it
 * logs (a channel whose source is `elsewhere`). One shared ticker does keep-alives, approval-wait
 * deadlines and the resume grace for every channel: there is no timer per stream.
 */
export function createTurnChannels(options: TurnChannelsOptions) {
  const channels = new Map<string, Channel>();
  const peers = options.coordinator?.shared ? options.coordinator : undefined;
  const tick = Math.max(
    20,
    Math.min(
      1000,
      options.keepAlive / 3,
      ...[options.approvalTimeout, options.resumeGrace].filter((value) => value > 0).map((value) => value / 4),
    ),
  );
  /** How long the coordinator believes a stream here waits, or follows: past the wait, or a few ticks. */
  const waitingTtl = options.approvalTimeout + 5000;
  const followedTtl = 3 * tick + 1000;
  let clock = options.clock.now();
  let stopTicker: (() => void) | undefined;

  /** Starts the ticker if it is stopped; `clock` is a tick old at most only while it runs. */
  const ensureTicker = () => {
    if (stopTicker) return;
    clock = options.clock.now();
    stopTicker = options.clock.every(tick, onTick);
  };

  const drop = (channel: Channel) => {
    channel.unlisten?.();
    channel.unlisten = undefined;
    if (channels.get(channel.sessionId) === channel) channels.delete(channel.sessionId);
    if (channel.markedWaiting) peers?.markWaiting(channel.sessionId, false, waitingTtl);
  };

  const writer = options.log && createTurnLogWriter(options.log, peers !== undefined);
  const steps = channelSteps({
    approvalTimeout: options.approvalTimeout,
    resumeGrace: options.resumeGrace,
    waitingTtl,
    writer,
    peers,
    now: () => clock,
    receive,
  });
  const { detachAll, emit, append, waitingLive, markWaiting, release, pause, end, resume, apply, checkOrphaned } =
    steps;

  async function pump(channel: Channel, run: TurnRun) {
    let last: TurnEvent | undefined;
    try {
      for await (const event of run.events) {
        if (event.event === 'done' || event.event === 'error') {
          last = event;
          break;
        }
        emit(channel, event, append(channel, event));
      }
    } finally {
      // The session is free again before anyone hears that the run ended (its state is saved).
      run.finish();
    }
    if (last?.event === 'done' && last.data.requires_approval) pause(channel, last);
    else if (last) end(channel, last);
    else detachAll(channel);
  }

  /**
   * Events of the session's turn that another server logged or announced. A channel whose turn
   * runs here ignores them (they are its own); a newer turn ends the waits of any other; else
   * they go on in it (`apply`).
   */
  function receive(sessionId: string, sequence: number, events: readonly LoggedEvent[]) {
    const channel = channels.get(sessionId);
    if (!channel || sequence < channel.sequence || (channel.source === 'here' && channel.state === 'running')) return;
    if (sequence > channel.sequence) {
      for (const subscriber of [...channel.attached.keys()]) release(channel, subscriber);
      detachAll(channel);
      drop(channel);
      return;
    }
    apply(channel, events);
  }

  function onTick() {
    clock = options.clock.now();
    const followed: string[] = [];
    writer?.flush();
    for (const channel of [...channels.values()]) {
      for (const [subscriber, entry] of channel.attached) {
        if (entry.deadline !== undefined && clock >= entry.deadline) {
          entry.deadline = undefined;
          if (channel.held) {
            release(channel, subscriber);
            continue;
          }
        }
        if (subscriber.ping && clock - entry.lastWrite >= options.keepAlive - tick) {
          entry.lastWrite = clock;
          subscriber.ping();
        }
      }
      markWaiting(channel);
      if (channel.source === 'elsewhere') {
        // Only kept for those following it here; a later follower reads the log again.
        if (channel.attached.size === 0) drop(channel);
        else if (channel.state === 'running') followed.push(channel.sessionId);
        continue;
      }
      if (channel.state === 'running' && channel.attached.size === 0) checkOrphaned(channel);
      else channel.orphanedAt = undefined;
      // A turn nobody follows and that does not run keeps its log for a while, for a late resume.
      if (channel.state !== 'running' && channel.attached.size === 0) {
        channel.finishedAt ??= clock;
        if (clock - channel.finishedAt > Math.max(options.resumeGrace * 2, 60_000)) drop(channel);
      }
    }
    if (followed.length > 0) peers?.markFollowed(followed, followedTtl);
    if (channels.size === 0) close();
  }

  const attachEntry = (channel: Channel, subscriber: Subscriber, started: boolean) => {
    const entry: Attached = { subscriber, lastWrite: clock, started };
    if (channel.state === 'waiting' && channel.held && subscriber.waitsForApproval)
      entry.deadline = clock + options.approvalTimeout;
    channel.attached.set(subscriber, entry);
    channel.orphanedAt = undefined;
    if (channel.state !== 'finished') channel.finishedAt = undefined;
    markWaiting(channel);
  };

  const newChannel = (sessionId: string, sequence: number, source: Channel['source'], next = 0): Channel => {
    const channel: Channel = {
      sessionId,
      sequence,
      log: [],
      next,
      attached: new Map(),
      state: 'running',
      source,
      markedWaiting: false,
    };
    channels.set(sessionId, channel);
    return channel;
  };

  return {
    /**
     * Runs a start or continuation of the session's turn `sequence`, with `first` following it from
     * its first event. A continuation of the same turn goes on in the same log, to the followers
     * that are waiting on its approvals; one whose earlier events this process does not hold starts
     * at `firstIndex` (past any index they had).
     */
    run(run: TurnRun, first?: Subscriber, firstIndex?: number) {
      const { sessionId, sequence, controller } = run;
      let channel = channels.get(sessionId);
      if (!channel || channel.sequence !== sequence) {
        // A new turn ends the waits of the old one: its streams get its `done` and close.
        if (channel) for (const subscriber of [...channel.attached.keys()]) release(channel, subscriber);
        if (channel) {
          detachAll(channel);
          drop(channel);
        }
        channel = newChannel(sessionId, sequence, 'here', firstIndex);
      }
      channel.unlisten?.();
      channel.unlisten = undefined;
      resume(channel, 'here');
      channel.controller = controller;
      ensureTicker();
      if (first) attachEntry(channel, first, false);
      const running = channel;
      pump(running, run).catch(() => detachAll(running));
    },

    /** Whether this process holds the events of the session's latest turn (else only a durable log may). */
    holds(sessionId: string): boolean {
      return channels.has(sessionId);
    },

    /** Whether this process holds the events of turn `sequence` of the session. */
    holdsTurn(sessionId: string, sequence: number): boolean {
      return channels.get(sessionId)?.sequence === sequence;
    },

    /** Whether a stream of the session here waits on the approvals of its current step. */
    hasWaitingStream(sessionId: string): boolean {
      const channel = channels.get(sessionId);
      return channel !== undefined && waitingLive(channel) && channel.attached.size > 0;
    },

    /**
     * Follows turn `sequence` of the session, which another server runs, here: its events so far
     * are `logged`, the rest come through `receive` (the caller listens before it reads the log, and
     * hands over `unlisten`). Does nothing when this process already holds the session's turn.
     */
    mirror(sessionId: string, sequence: number, logged: readonly LoggedEvent[], unlisten: () => void) {
      if (channels.has(sessionId)) return unlisten();
      const channel = newChannel(sessionId, sequence, 'elsewhere');
      channel.unlisten = unlisten;
      ensureTicker();
      receive(sessionId, sequence, logged);
    },

    receive,

    /** The sessions whose turns are followed here while another server runs them. */
    mirrored(): string[] {
      return [...channels.values()]
        .filter((channel) => channel.source === 'elsewhere' && channel.state === 'running')
        .map((channel) => channel.sessionId);
    },

    /** The turn of the session followed here while another server runs it, and the index past what this process has of it. */
    followedTurn(sessionId: string): { sequence: number; next: number } | undefined {
      const channel = channels.get(sessionId);
      if (channel?.source !== 'elsewhere' || channel.state !== 'running') return undefined;
      return { sequence: channel.sequence, next: channel.next };
    },

    /**
     * Follows the session's turn: replays the events after `after` (all of them when absent), then
     * follows live if the turn is running or waiting. 'nothing' when there is nothing to send.
     */
    attach(sessionId: string, subscriber: Subscriber, after?: { sequence: number; index: number }): AttachResult {
      const channel = channels.get(sessionId);
      if (!channel || (after && after.sequence !== channel.sequence)) return 'nothing';
      const live = channel.state === 'running' || waitingLive(channel);
      // Without a last id, only a live turn is followed (from its start); a finished one is not replayed.
      if (!after && !live) return 'nothing';
      const missed = channel.log.filter((entry) => entry.index > (after?.index ?? -1));
      if (!live && missed.length === 0) return 'nothing';
      if (live && channel.attached.size >= options.maxFollowers) {
        throw new AppError(
          'too_many_followers',
          `This turn already has ${options.maxFollowers} followers (--max-followers); close one first.`,
        );
      }
      for (const entry of missed) subscriber.deliver(entry.event, entry.frame);
      if (!live) {
        subscriber.close();
        return 'replayed';
      }
      ensureTicker();
      attachEntry(channel, subscriber, true);
      return 'following';
    },

    /** Stops following: the turn goes on (for the resume grace when nobody follows). */
    detach(sessionId: string, subscriber: Subscriber) {
      const channel = channels.get(sessionId);
      if (!channel?.attached.delete(subscriber)) return;
      markWaiting(channel);
      if (channel.attached.size > 0 || channel.state !== 'running' || channel.source !== 'here') return;
      channel.orphanedAt = options.clock.now();
      // No grace (a runtime whose turns cannot outlive their request): stop at once.
      if (options.resumeGrace === 0) channel.controller?.abort(new Error('the client went away'));
    },

    /** Ends a turn that waits on approvals (after POST /stop): its followers get `done`. */
    finish(sessionId: string, done: TurnEvent) {
      const channel = channels.get(sessionId);
      if (channel?.state !== 'waiting') return;
      channel.held = undefined;
      end(channel, done);
    },

    /** Stops the ticker; for tests and shutdown. */
    close,
  };

  function close() {
    stopTicker?.();
    stopTicker = undefined;
  }
}

export type TurnChannels = ReturnType<typeof createTurnChannels>;
