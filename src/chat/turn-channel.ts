import type { LoggedEvent } from '../store/session-store.js';
import { eventFrame } from './event-frame.js';
import type { TurnCoordinator } from './turn-coordinator.js';
import type { TurnEvent } from './turn-events.js';
import type { TurnLogWriter } from './turn-log-writer.js';

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

export interface Attached {
  subscriber: Subscriber;
  /** Coarse time of the last write, for keep-alives. */
  lastWrite: number;
  /** When an approval wait ends for this subscriber. */
  deadline?: number;
  /** Whether it got any event, so a continuation's `session` event is not sent twice. */
  started: boolean;
}

/** One session's latest turn as this process holds it: its events so far and who follows them. */
export interface Channel {
  sessionId: string;
  sequence: number;
  log: LoggedEvent[];
  next: number;
  attached: Map<Subscriber, Attached>;
  state: 'running' | 'waiting' | 'finished';
  /** Where the turn's latest run runs: in this process, or on another server (its events come from the log). */
  source: 'here' | 'elsewhere';
  /** The `done` of a step waiting on approvals, held back while streams wait; logged once released. */
  held?: LoggedEvent & { logged: boolean };
  controller?: AbortController;
  orphanedAt?: number;
  finishedAt?: number;
  /** Stops following the events other servers log for the session, while this one does. */
  unlisten?: () => void;
  /** Whether the coordinator was told that a stream here waits on the step. */
  markedWaiting: boolean;
}

export interface ChannelStepsContext {
  /** How long streams wait on approvals before `done` (0: they end at once). */
  approvalTimeout: number;
  /** How long a turn runs on with nobody following before it is stopped. */
  resumeGrace: number;
  /** How long the coordinator believes that a stream here waits. */
  waitingTtl: number;
  /** Writes the events run here to the durable log, if there is one. */
  writer?: TurnLogWriter;
  /** The coordinator, when other servers share the sessions. */
  peers?: TurnCoordinator;
  /** The coarse time of the shared ticker. */
  now(): number;
  /** Takes the events other servers log or announce for a session (see `TurnChannels.receive`). */
  receive(sessionId: string, sequence: number, events: readonly LoggedEvent[]): void;
}

/**
 * What happens to one channel as its turn goes: events appended and sent to its followers, a step
 * that waits on approvals (its `done` held back for the streams that wait), the end, a
 * continuation. Events are run here (`given` absent: indexed, framed and logged here) or come as
 * another server logged them (`given`: kept as they are, not logged again).
 */
export function channelSteps(context: ChannelStepsContext) {
  const { peers } = context;

  const detachAll = (channel: Channel) => {
    const attached = [...channel.attached.keys()];
    channel.attached.clear();
    for (const subscriber of attached) subscriber.close();
  };

  const emit = (channel: Channel, event: TurnEvent, frame: string) => {
    for (const entry of channel.attached.values()) {
      if (event.event === 'session' && entry.started) continue;
      entry.started = true;
      entry.lastWrite = context.now();
      entry.subscriber.deliver(event, frame);
    }
  };

  /** Adds an event to the turn's log: a new one run here (logged durably), or `given` as another server logged it. */
  const append = (channel: Channel, event: TurnEvent, given?: LoggedEvent) => {
    const index = given?.index ?? channel.next;
    channel.next = index + 1;
    const entry = given ?? { index, event, frame: eventFrame(event, `${channel.sequence}.${index}`) };
    channel.log.push(entry);
    if (!given)
      context.writer?.add(
        channel.sessionId,
        channel.sequence,
        entry,
        event.event !== 'token' && event.event !== 'tool_progress',
      );
    return entry.frame;
  };

  const logHeld = (channel: Channel) => {
    const held = channel.held;
    if (!held || held.logged) return;
    held.logged = true;
    channel.log.push({ index: held.index, event: held.event, frame: held.frame });
  };

  /** A step that waits on approvals with a stream still waiting for it. */
  const waitingLive = (channel: Channel) =>
    channel.state === 'waiting' &&
    channel.held !== undefined &&
    [...channel.attached.keys()].some((subscriber) => subscriber.waitsForApproval);

  /** Tells the coordinator whether a stream here waits on the step, when that changed. */
  const markWaiting = (channel: Channel) => {
    const waiting = waitingLive(channel) && context.approvalTimeout > 0;
    if (!peers || waiting === channel.markedWaiting) return;
    channel.markedWaiting = waiting;
    peers.markWaiting(channel.sessionId, waiting, context.waitingTtl);
  };

  /** Follows what other servers log for the session (a continuation, a stop, a recovery) while the turn does not run here. */
  const listen = (channel: Channel) => {
    if (!peers || channel.unlisten) return;
    let stop: (() => void) | undefined;
    let stopped = false;
    channel.unlisten = () => {
      stopped = true;
      stop?.();
    };
    peers
      .listen(channel.sessionId, (sequence, events) => context.receive(channel.sessionId, sequence, events))
      .then(
        (unlisten) => {
          stop = unlisten;
          if (stopped) unlisten();
        },
        () => {
          if (channel.unlisten && !stopped) channel.unlisten = undefined;
        },
      );
  };

  /** A channel nobody follows whose turn runs here: stopped after the resume grace, unless followed elsewhere. */
  const checkOrphaned = (channel: Channel) => {
    const now = context.now();
    channel.orphanedAt ??= now;
    if (now - channel.orphanedAt < context.resumeGrace) return;
    channel.orphanedAt = undefined;
    const abort = () => {
      if (channel.attached.size === 0 && channel.state === 'running') {
        channel.controller?.abort(new Error('the client went away'));
      }
    };
    if (!peers) return abort();
    // Followed on another server (a client that came back through another door): it runs on.
    peers.followedElsewhere(channel.sessionId).then(
      (followed) => (followed ? undefined : abort()),
      () => undefined,
    );
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

  const pause = (channel: Channel, done: TurnEvent, given?: LoggedEvent) => {
    const index = given?.index ?? channel.next;
    channel.next = index + 1;
    channel.state = 'waiting';
    const frame = given?.frame ?? eventFrame(done, `${channel.sequence}.${index}`);
    channel.held = { event: done, index, frame, logged: false };
    channel.controller = undefined;
    for (const [subscriber, entry] of [...channel.attached]) {
      if (!subscriber.waitsForApproval || context.approvalTimeout === 0) release(channel, subscriber);
      else entry.deadline = context.now() + context.approvalTimeout;
    }
    if (channel.attached.size === 0) logHeld(channel);
    if (!given && peers) {
      // After the events before it, which other servers must get first.
      context.writer?.drain();
      peers.announce(channel.sessionId, channel.sequence, [{ index, event: done, frame }]);
    }
    markWaiting(channel);
    listen(channel);
  };

  const end = (channel: Channel, last: TurnEvent, given?: LoggedEvent) => {
    const frame = append(channel, last, given);
    emit(channel, last, frame);
    channel.state = 'finished';
    channel.finishedAt = context.now();
    channel.controller = undefined;
    channel.held = undefined;
    detachAll(channel);
    markWaiting(channel);
  };

  /** Lets a run go on in the channel: a continuation supersedes the `done` that ended the wait. */
  const resume = (channel: Channel, source: Channel['source']) => {
    const held = channel.held;
    if (held?.logged) channel.log = channel.log.filter((entry) => entry.index !== held.index);
    channel.state = 'running';
    channel.source = source;
    channel.held = undefined;
    channel.finishedAt = undefined;
    for (const entry of channel.attached.values()) entry.deadline = undefined;
    markWaiting(channel);
  };

  /**
   * Events of the channel's turn that another server logged or announced, in order: a `session`
   * event resumes a waiting step, a `done` asking for approvals pauses it, and a last `done` or
   * `error` ends it. Events it has already (by index) are skipped.
   */
  const apply = (channel: Channel, events: readonly LoggedEvent[]) => {
    for (const entry of events) {
      if (entry.index < channel.next || channel.state === 'finished') continue;
      const { event } = entry;
      if (channel.state === 'waiting') resume(channel, 'elsewhere');
      if (event.event === 'done' && event.data.requires_approval) pause(channel, event, entry);
      else if (event.event === 'done' || event.event === 'error') end(channel, event, entry);
      else emit(channel, event, append(channel, event, entry));
    }
  };

  return {
    detachAll,
    emit,
    append,
    waitingLive,
    markWaiting,
    listen,
    release,
    pause,
    end,
    resume,
    apply,
    checkOrphaned,
  };
}
