import { closeStep, endTurn, settleOpenCalls } from '../approvals/tool-calls.js';
import { AppError, errorBody } from '../errors.js';
import type { SessionRecord, TurnState } from '../sessions/session-record.js';
import type { LoggedEvent, SessionStore, TurnEventLog } from '../store/session-store.js';
import { eventFrame } from './event-frame.js';
import type { TurnEvent } from './turn-events.js';
import { maxUnsavedEvents } from './turn-log-writer.js';

/** The result of a tool that was running when the server went down. */
export const restartedToolText =
  'The server restarted while this tool ran: whether it had its effect is unknown. It was not run again; check before retrying.';

/** What marks the end of an answer cut off by a restart, in the history the model and clients see. */
export const interruptedMark = '\n\n[interrupted: the server restarted]';

/** The last event of a turn cut off by a restart. */
export const interruptedEvent = (): TurnEvent => ({
  event: 'error',
  data: errorBody(
    new AppError('interrupted', 'The server restarted during this turn; what was said so far is kept in the session.'),
  ),
});

/** The text the model was streaming when the log ends: its tokens after the last other event. */
function partialAnswer(events: readonly LoggedEvent[]): string {
  let text = '';
  for (const { event } of events) text = event.event === 'token' ? text + event.data.content : '';
  return text;
}

/**
 * Recovers a turn that a process marked as running (`turn.runner`) and that no process runs any
 * more: the server running it was killed. The answer streamed so far (as far as the event log
 * has it) is kept in the history, marked interrupted; a tool that was running is failed, never
 * run again, and the model is told so with its result; calls decided but not started do not run;
 * the turn ends. The record is changed in place; returns the event that ends the turn's log.
 */
async function recoverTurn(session: SessionRecord, turn: TurnState, log: TurnEventLog | undefined) {
  const logged = log ? await log.read(session.id, turn.sequence, -1) : [];
  const partial = partialAnswer(logged);
  if (partial) session.messages.push({ role: 'assistant', content: partial + interruptedMark });
  for (const call of turn.tool_calls) {
    if (!call.closed && call.status === 'running') {
      Object.assign(call, { status: 'failed', result: restartedToolText, is_error: true });
    }
  }
  settleOpenCalls(turn, 'the server restarted');
  closeStep(session);
  endTurn(session);
  // Past any event a follower may have had that the log had not yet: a resume from wherever a
  // follower was gets the end of the turn, and one that got it has nothing more to get.
  const index = (logged.at(-1)?.index ?? -1) + maxUnsavedEvents + 1;
  const event = interruptedEvent();
  return { index, event, frame: eventFrame(event, `${turn.sequence}.${index}`) };
}

/**
 * The store as a server sees it that can tell when a turn marked running (`turn.runner`) is run by
 * nobody any more (`abandoned`): alone on its store (a Node or Bun process on its own data
 * directory, a session's Durable Object), a turn another run of the server marked; among servers
 * sharing one store, a turn whose runner's lease is gone. Such a session read back is recovered
 * before anyone sees it (`recoverTurn`). The recovery is saved as the next revision of the record
 * read; when another request recovered it first, that one is read back.
 */
export function recoveringStore(
  store: SessionStore,
  abandoned: (record: SessionRecord) => boolean | Promise<boolean>,
  ttlMilliseconds: number,
): SessionStore {
  const get = async (id: string, attempts = 3): Promise<SessionRecord | undefined> => {
    const record = await store.get(id);
    const turn = record?.turn;
    if (!record || !turn?.runner || !(await abandoned(record))) return record;
    const sequence = turn.sequence;
    const last = await recoverTurn(record, turn, store.events);
    const read = record.revision ?? 0;
    record.revision = read + 1;
    try {
      await store.put(record, { ttlMilliseconds, ifRevision: read });
    } catch (error) {
      if (attempts > 1 && error instanceof AppError && error.code === 'session_conflict') return get(id, attempts - 1);
      throw error;
    }
    await store.events?.append(id, sequence, [last]);
    return record;
  };
  return { ...store, get };
}
