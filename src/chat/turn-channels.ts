import type { Clock } from '../clock.js';
import { AppError } from '../errors.js';
import type { LoggedEvent, TurnEventLog } from '../store/session-store.js';
import { eventFrame } from './event-frame.js';
import type { TurnEvent } from './turn-events.js';
import type { TurnRun } from './turn-service.js';

/**
 * Someone following a session's turn: an SSE response, or a JSON request collecting the result.
 * The channel calls `deliver` for each event in order and `close` once, after the last one.
 */
export interface Subscriber {
  /** Receives an event with its SSE frame (formatted once, shared by every subscriber). */
  deliver(event: TurnEvent, frame: string): void;
  /** Ends this subscriber: the stream closes, or the JSON request settles. */
  close(): void;
  /** Writes a keep-alive comment; streams only. */
  ping?(): void;
  /** Whether it stays through an approval wait (streams) or ends at `done` with requires_approval (JSON). */
  readonly waitsForApproval: boolean;
}

interface Attached {
  subscriber: Subscriber;
  /** Coarse time of the last write, for keep-alives. */
  lastWrite: number;
  /** When an approval wait ends for this subscriber. */
  deadline?: number;
  /** Whether it got any event, so a continuation's `session` event is not sent twice. */
  started: boolean;
}

interface Channel {
  sessionId: string;
  sequence: number;
  log: Array<{ index: number; event: TurnEvent; frame: string }>;
  next: number;
  attached: Map<Subscriber, Attached>;
  state: 'running' | 'waiting' | 'finished';
  /** The `done` of a step waiting on approvals, held back while streams wait; logged once released. */
  held?: { event: TurnEvent; index: number; frame: string; logged: boolean };
  controller?: AbortController;
  orphanedAt?: number;
  finishedAt?: number;
  /** Logged events not yet in the durable log. */
  unsaved: LoggedEvent[];
}

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
   * Where turns' events are kept across a restart, if anywhere. Written at step boundaries (any
   * event but a token or a progress note) and on the shared ticker: never once per token.
   */
  log?: TurnEventLog;
}

export type AttachResult = 'following' | 'replayed' | 'nothing';

/**
 * The most events of a turn that may have gone to followers without being in the durable log: the
 * log is written at every step boundary, on the ticker, and whenever this many events wait.
 */
export const maxUnsavedEvents = 256;

/**
 * The in-process hub between running turns and their followers. A run's events are encoded once,
 * kept in the turn's log (for `Last-Event-ID` replay) and written to each follower; the turn does
 * not depend on any connection. One shared ticker does keep-alives, approval-wait deadlines and
 * the resume grace for every channel: there is no timer per stream.
 */
export function createTurnChannels(options: TurnChannelsOptions) {
  const channels = new Map<string, Channel>();
  const tick = Math.max(
    20,
    Math.min(
      1000,
      options.keepAlive / 3,
      ...[options.approvalTimeout, options.resumeGrace].filter((value) => value > 0).map((value) => value / 4),
    ),
  );
  let clock = options.clock.now();
  let stopTicker: (() => void) | undefined;

  /** Starts the ticker if it is stopped; `clock` is a tick old at most only while it runs. */
  const ensureTicker = () => {
    if (stopTicker) return;
    clock = options.clock.now();
    stopTicker = options.clock.every(tick, onTick);
  };

  const detachAll = (channel: Channel) => {
    const attached = [...channel.attached.keys()];
    channel.attached.clear();
    for (const subscriber of attached) subscriber.close();
  };

  const emit = (channel: Channel, event: TurnEvent, frame: string) => {
    for (const entry of channel.attached.values()) {
      if (event.event === 'session' && entry.started) continue;
      entry.started = true;
      entry.lastWrite = clock;
      entry.subscriber.deliver(event, frame);
    }
  };

  /** Hands the events not yet saved to the durable log, in order; the turn does not wait for it. */
  const save = (channel: Channel) => {
    if (!options.log || channel.unsaved.length === 0) return;
    const events = channel.unsaved;
    channel.unsaved = [];
    // A failed write loses only what a resume after a restart could replay; the turn goes on.
    options.log.append(channel.sessionId, channel.sequence, events).catch(() => undefined);
  };

  const append = (channel: Channel, event: TurnEvent) => {
    const index = channel.next;
    channel.next += 1;
    const frame = eventFrame(event, `${channel.sequence}.${index}`);
    channel.log.push({ index, event, frame });
    if (options.log) {
      channel.unsaved.push({ index, event, frame });
      const boundary = event.event !== 'token' && event.event !== 'tool_progress';
      if (boundary || channel.unsaved.length >= maxUnsavedEvents) save(channel);
    }
    return frame;
  };

  const logHeld = (channel: Channel) => {
    const held = channel.held;
    if (!held || held.logged) return;
    held.logged = true;
    channel.log.push({ index: held.index, event: held.event, frame: held.frame });
  };

  /** Sends the held `done` to one follower whose wait is over (or that does not wait), and lets it go. */
  const release = (channel: Channel, subscriber: Subscriber) => {
    const held = channel.held;
    if (!held) return;
    if (subscriber.waitsForApproval) logHeld(channel);
    channel.attached.delete(subscriber);
    subscriber.deliver(held.event, held.frame);
    subscriber.close();
  };

  const pause = (channel: Channel, done: TurnEvent) => {
    const index = channel.next;
    channel.next += 1;
    channel.state = 'waiting';
    channel.held = { event: done, index, frame: eventFrame(done, `${channel.sequence}.${index}`), logged: false };
    channel.controller = undefined;
    for (const [subscriber, entry] of [...channel.attached]) {
      if (!subscriber.waitsForApproval || options.approvalTimeout === 0) release(channel, subscriber);
      else entry.deadline = clock + options.approvalTimeout;
    }
    if (channel.attached.size === 0) logHeld(channel);
  };

  /** A step that waits on approvals with a stream still waiting for it. */
  const waitingLive = (channel: Channel) =>
    channel.state === 'waiting' &&
    channel.held !== undefined &&
    [...channel.attached.keys()].some((subscriber) => subscriber.waitsForApproval);

  const end = (channel: Channel, last: TurnEvent) => {
    const frame = append(channel, last);
    emit(channel, last, frame);
    channel.state = 'finished';
    channel.finishedAt = clock;
    channel.controller = undefined;
    detachAll(channel);
  };

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

  function onTick() {
    clock = options.clock.now();
    for (const [sessionId, channel] of channels) {
      save(channel);
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
      if (channel.state === 'running' && channel.attached.size === 0) {
        channel.orphanedAt ??= clock;
        if (clock - channel.orphanedAt >= options.resumeGrace) {
          channel.controller?.abort(new Error('the client went away'));
          channel.orphanedAt = undefined;
        }
      } else {
        channel.orphanedAt = undefined;
      }
      // A turn nobody follows and that does not run keeps its log for a while, for a late resume.
      if (channel.state !== 'running' && channel.attached.size === 0) {
        channel.finishedAt ??= clock;
        if (clock - channel.finishedAt > Math.max(options.resumeGrace * 2, 60_000)) channels.delete(sessionId);
      }
    }
    if (channels.size === 0) close();
  }

  const attachEntry = (channel: Channel, subscriber: Subscriber, started: boolean) => {
    const entry: Attached = { subscriber, lastWrite: clock, started };
    if (channel.state === 'waiting' && channel.held && subscriber.waitsForApproval)
      entry.deadline = clock + options.approvalTimeout;
    channel.attached.set(subscriber, entry);
    channel.orphanedAt = undefined;
    if (channel.state !== 'finished') channel.finishedAt = undefined;
  };

  return {
    /**
     * Runs a start or continuation of the session's turn `sequence`, with `first` following it from
     * its first event. A continuation of the same turn goes on in the same log, to the followers
     * that are waiting on its approvals.
     */
    run(run: TurnRun, first?: Subscriber) {
      const { sessionId, sequence, controller } = run;
      let channel = channels.get(sessionId);
      if (!channel || channel.sequence !== sequence) {
        // A new turn ends the waits of the old one: its streams get its `done` and close.
        if (channel) for (const subscriber of [...channel.attached.keys()]) release(channel, subscriber);
        if (channel) detachAll(channel);
        channel = { sessionId, sequence, log: [], next: 0, attached: new Map(), state: 'running', unsaved: [] };
        channels.set(sessionId, channel);
      }
      // A continuation supersedes the `done` that ended the wait: a replay must not end there.
      const held = channel.held;
      if (held?.logged) channel.log = channel.log.filter((entry) => entry.index !== held.index);
      channel.state = 'running';
      channel.held = undefined;
      channel.controller = controller;
      channel.finishedAt = undefined;
      for (const entry of channel.attached.values()) entry.deadline = undefined;
      ensureTicker();
      if (first) attachEntry(channel, first, false);
      const running = channel;
      pump(running, run).catch(() => detachAll(running));
    },

    /** Whether this process holds the events of the session's latest turn (else only a durable log may). */
    holds(sessionId: string): boolean {
      return channels.has(sessionId);
    },

    /** Whether a stream of the session waits on the approvals of its current step. */
    hasWaitingStream(sessionId: string): boolean {
      const channel = channels.get(sessionId);
      return channel !== undefined && waitingLive(channel) && channel.attached.size > 0;
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
      if (!channel?.attached.delete(subscriber) || channel.attached.size > 0 || channel.state !== 'running') return;
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
