import { parseFrames } from '../chat/event-frame.js';
import { turnEventSchema } from '../chat/turn-events.js';
import type { LoggedEvent } from './session-store.js';

/** The events of `frames` (SSE frames as a driver stored them) with an index above `after`, each validated. */
export function loggedEvents(frames: string, after: number): LoggedEvent[] {
  return parseFrames(frames)
    .filter((entry) => entry.index > after)
    .map(({ index, name, data, frame }) => ({ index, event: turnEventSchema.parse({ event: name, data }), frame }));
}
