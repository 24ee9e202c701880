import type { LoggedBatch, LoggedEvent, TurnEventLog } from '../store/session-store.js';

/**
 * The most events of a turn that may have gone to followers without being in the durable log: the
 * log is written at every step boundary (or as events come, when it is shared), on the ticker, and
 * whenever this many events of a turn wait.
 */
export const maxUnsavedEvents = 256;

/** After the work the current I/O callback set off: setImmediate where the runtime has it, else a microtask. */
const afterCurrentTask: (task: () => void) => void =
  typeof setImmediate === 'function' ? (task) => setImmediate(task) : (task) => queueMicrotask(task);

export interface TurnLogWriter {
  /** Adds an event of turn `sequence` of the session; `boundary` when it ends a step (any event but a token or a progress note). */
  add(sessionId: string, sequence: number, entry: LoggedEvent, boundary: boolean): void;
  /** Writes what waits (the shared ticker's call); live, unless an append is in flight or due anyway. */
  flush(): void;
  /** Writes what waits now, whatever is in flight: what is sent after it on the same connection comes after it. */
  drain(): void;
}

/**
 * Writes the events of this process's turns to their durable log without holding any turn up: a
 * failed write loses only what a resume could replay, never the turn. Alone on its store (`live`
 * false), a turn's events are written at its step boundaries, on the ticker and every
 * `maxUnsavedEvents`. When other servers follow turns through the log (`live`), the events that
 * the upstream reads of all turns produced go in one append (`appendMany`) once the work of those
 * reads is done, one append at a time: under load the batches grow instead of the appends, and a
 * token never costs a write of its own unless it came alone.
 */
export function createTurnLogWriter(log: TurnEventLog, live: boolean): TurnLogWriter {
  /** Events not yet written, by turn (`<session> <sequence>`), in the order the turns first had one. */
  let waiting = new Map<string, LoggedBatch & { events: LoggedEvent[] }>();
  let inFlight = 0;
  let scheduled = false;

  const write = (only?: string) => {
    scheduled = false;
    const batch = only === undefined ? undefined : waiting.get(only);
    const batches = batch ? [batch] : only === undefined ? [...waiting.values()] : [];
    if (batches.length === 0) return;
    if (batch && only !== undefined) waiting.delete(only);
    else waiting = new Map();
    inFlight += 1;
    const written = log.appendMany
      ? log.appendMany(batches)
      : Promise.all(batches.map((each) => log.append(each.sessionId, each.sequence, each.events)));
    written
      .catch(() => undefined)
      .finally(() => {
        inFlight -= 1;
        if (live && waiting.size > 0) schedule();
      });
  };
  const schedule = () => {
    if (scheduled || inFlight > 0) return;
    scheduled = true;
    // A write that went out meanwhile (256 events waited) took what this one was for.
    afterCurrentTask(() => scheduled && write());
  };

  return {
    add(sessionId, sequence, entry, boundary) {
      const key = `${sessionId} ${sequence}`;
      let batch = waiting.get(key);
      if (!batch) {
        batch = { sessionId, sequence, events: [] };
        waiting.set(key, batch);
      }
      batch.events.push(entry);
      if (batch.events.length >= maxUnsavedEvents) write(live ? undefined : key);
      else if (live) schedule();
      else if (boundary) write(key);
    },
    flush() {
      if (!live || (inFlight === 0 && !scheduled)) write();
    },
    drain: () => write(),
  };
}
