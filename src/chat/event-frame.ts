import type { TurnEvent } from './turn-events.js';

/**
 * An event as a Server-Sent Events frame: `event:`, `id:` and a single `data:` line. The data is
 * JSON, whose encoding escapes every newline, so no content can start a field of its own. Frames
 * are made once per event and shared by every follower and by the replay log.
 */
export function eventFrame(event: TurnEvent, id: string): string {
  return `event: ${event.event}\nid: ${id}\ndata: ${JSON.stringify(event.data)}\n\n`;
}

/** A keep-alive comment: ignored by clients, it keeps proxies from closing an idle stream. */
export const pingFrame = ': ping\n\n';

/** Parses an event id `sequence.index`; undefined for anything else. */
export function parseEventId(id: string | undefined): { sequence: number; index: number } | undefined {
  const match = id ? /^(\d+)\.(\d+)$/.exec(id.trim()) : null;
  return match ? { sequence: Number(match[1]), index: Number(match[2]) } : undefined;
}
