import type { LoggedEvent, TurnEventLog } from '../store/session-store.js';

/**
 * The most events of a turn that may have gone to followers without being in the durable log: the
 * log is written at every step boundary (or as events come, when it is shared), on the ticker, and
 * whenever this many events wait.
 */
export const maxUnsavedEvents = 256;

/** After the work the current I/O callback set off: setImmediate where the runtime has it, else a microtask. */
const afterCurrentTask: (task: () => void) => void =
  typeof setImmediate === 'function' ? (task) => setImmediate(task) : (task) => queueMicrotask(task);

export interface TurnLogWriter {
  /** Adds an event; `boundary` when it ends a step (any event but a token or a progress note). */
  add(entry: LoggedEvent, boundary: boolean): void;
  /** Writes what waits (the shared ticker's call); live logs leave that to the appends in flight. */
  flush(): void;
  /** Writes what waits now, whatever is in flight: what is sent after it on the same connection comes after it. */
  drain(): void;
}

/**
 * Writes one turn's events to its durable log without holding the turn up: a failed write loses
 * only what a resume could replay, never the turn. Alone on its store (`live` false), events are
 * written at step boundaries, on the ticker and every `maxUnsavedEvents`. When other servers follow
 * the turn through the log (`live`), the events one upstream read produced go in one append once
 * the work of that read is done, one append at a time: under load the batches grow instead of the
 * appends; a token never costs a write of its own unless it came alone.
 */
export function createTurnLogWriter(
  log: TurnEventLog,
  sessionId: string,
  sequence: number,
  live: boolean,
): TurnLogWriter {
  let unsaved: LoggedEvent[] = [];
  let inFlight = 0;
  let scheduled = false;

  const write = () => {
    scheduled = false;
    if (unsaved.length === 0) return;
    const events = unsaved;
    unsaved = [];
    inFlight += 1;
    log
      .append(sessionId, sequence, events)
      .catch(() => undefined)
      .finally(() => {
        inFlight -= 1;
        if (live && unsaved.length > 0) schedule();
      });
  };
  const schedule = () => {
    if (scheduled || inFlight > 0) return;
    scheduled = true;
    afterCurrentTask(write);
  };

  return {
    add(entry, boundary) {
      unsaved.push(entry);
      if (unsaved.length >= maxUnsavedEvents) write();
      else if (live) schedule();
      else if (boundary) write();
    },
    flush() {
      if (!live || (inFlight === 0 && !scheduled)) write();
    },
    drain: write,
  };
}
