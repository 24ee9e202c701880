import { pendingCalls } from '../approvals/tool-calls.js';
import type { Clock } from '../clock.js';
import type { SessionRecord } from '../sessions/session-record.js';
import type { LoggedEvent, SessionStore } from '../store/session-store.js';
import { eventFrame } from './event-frame.js';
import type { TurnChannels } from './turn-channels.js';
import type { TurnCoordinator } from './turn-coordinator.js';
import type { TurnEvent } from './turn-events.js';
import { maxUnsavedEvents } from './turn-log-writer.js';
import { turnResponse } from './turn-response.js';
import type { TurnRun } from './turn-service.js';

/** How often turns followed here while another server runs them are checked for having ended unseen. */
export const mirrorCheckInterval = 1000;

export interface LoggedTurnsOptions {
  /** The store as the conversations read it (recovering abandoned turns). */
  store: SessionStore;
  channels: TurnChannels;
  coordinator: TurnCoordinator;
  clock: Clock;
}

/** The `done` of a step that waits on approvals, as it stands in the session, at `index`. */
function waitingDone(record: SessionRecord, sequence: number, index: number): LoggedEvent | undefined {
  const turn = record.turn;
  if (turn?.sequence !== sequence || pendingCalls(turn).length === 0) return undefined;
  const event: TurnEvent = { event: 'done', data: turnResponse(record, turn, turn.message) };
  return { index, event, frame: eventFrame(event, `${sequence}.${index}`) };
}

/**
 * The turns this process does not run, followed through the store's durable event log: the log
 * of a turn cut off by a restart, and turns another server runs (followed here as the events it
 * logs come, through the coordinator). A turn followed here whose events stop coming (its server
 * died, or it paused before this process listened) is checked on a timer: reading it through the
 * recovering store marks it interrupted, and what its log and session say then reaches its followers.
 */
export function createLoggedTurns(options: LoggedTurnsOptions) {
  const { store, channels, coordinator, clock } = options;
  const log = store.events;
  let stopChecks: (() => void) | undefined;

  const checkAll = () => {
    const mirrored = channels.mirrored();
    if (mirrored.length === 0) {
      stopChecks?.();
      stopChecks = undefined;
      return;
    }
    for (const sessionId of mirrored) void settle(sessionId).catch(() => undefined);
  };

  /** A turn followed here that no server runs any more: what its log has after what this process holds, then how it stands. */
  const settle = async (sessionId: string) => {
    const record = await store.get(sessionId);
    const followed = channels.followedTurn(sessionId);
    if (!followed || (record?.turn?.runner && record.turn.sequence === followed.sequence)) return;
    const { sequence, next } = followed;
    const logged = log ? await log.read(sessionId, sequence, next - 1) : [];
    channels.receive(sessionId, sequence, logged);
    const last = Math.max(next, (logged.at(-1)?.index ?? -1) + 1);
    const done = record && waitingDone(record, sequence, last);
    if (done) channels.receive(sessionId, sequence, [done]);
    // Gone, or superseded without a last event in the log: its followers are let go.
    else channels.receive(sessionId, sequence + 1, []);
  };

  return {
    /**
     * What a follower missed of turn `after.sequence` when this process does not hold that turn
     * (it started after a restart, or another server ran it): the durable log after `after`, then,
     * if the turn still waits on approvals, the `done` that says so. Undefined when the store keeps
     * no log or this process holds the turn.
     */
    async replay(record: SessionRecord, after: { sequence: number; index: number }) {
      if (!log || channels.holds(record.id)) return undefined;
      const logged = await log.read(record.id, after.sequence, -1);
      const missed = logged.filter((entry) => entry.index > after.index);
      // The `done` of a step waiting on approvals is not logged (a continuation supersedes it): it
      // follows from the session, at the index it had.
      const done = waitingDone(record, after.sequence, (logged.at(-1)?.index ?? -1) + 1);
      if (done && done.index > after.index) missed.push(done);
      return missed;
    },

    /**
     * Follows here the session's turn that another server runs, if it does (its record is marked
     * by a live runner that is not this process): listens for its events before reading its log,
     * so that nothing logged in between is missed. Whether the turn is now held here.
     */
    async mirror(record: SessionRecord): Promise<boolean> {
      const turn = record.turn;
      if (!log || !coordinator.shared || !turn?.runner || turn.runner === coordinator.instance) return false;
      if (channels.holds(record.id)) return true;
      const { id } = record;
      const early: Array<[number, LoggedEvent[]]> = [];
      let ready = false;
      const unlisten = await coordinator.listen(id, (sequence, events) => {
        if (ready) channels.receive(id, sequence, events);
        else early.push([sequence, events]);
      });
      let logged: LoggedEvent[];
      try {
        logged = await log.read(id, turn.sequence, -1);
      } catch (error) {
        unlisten();
        throw error;
      }
      channels.mirror(id, turn.sequence, logged, unlisten);
      ready = true;
      for (const [sequence, events] of early) channels.receive(id, sequence, events);
      stopChecks ??= clock.every(mirrorCheckInterval, checkAll);
      return true;
    },

    /**
     * Where the events of a continuation start when this process does not hold the earlier ones
     * of its turn: past any index a follower may have had (the log may lag by `maxUnsavedEvents`,
     * and a replay adds the `done` of the step after it). Undefined when they continue here.
     */
    async firstIndex(run: TurnRun): Promise<number | undefined> {
      if (!run.continues || !log || channels.holdsTurn(run.sessionId, run.sequence)) return undefined;
      const logged = await log.read(run.sessionId, run.sequence, -1).catch(() => []);
      return (logged.at(-1)?.index ?? -1) + maxUnsavedEvents + 2;
    },

    close() {
      stopChecks?.();
      stopChecks = undefined;
    },
  };
}

export type LoggedTurns = ReturnType<typeof createLoggedTurns>;
