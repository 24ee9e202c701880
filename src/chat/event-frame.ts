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

/**
 * The frames of `text` (frames as `eventFrame` writes them, one after another), each with its
 * index and its event's name and data as parsed JSON; unchecked: a caller reading them from a store
 * validates the events.
 */
export function parseFrames(text: string): Array<{ index: number; name: string; data: unknown; frame: string }> {
  const frames: Array<{ index: number; name: string; data: unknown; frame: string }> = [];
  for (const block of text.split('\n\n')) {
    if (block === '') continue;
    const match = /^event: ([a-z_]+)\nid: \d+\.(\d+)\ndata: (.*)$/s.exec(block);
    if (!match) throw new Error('not an event frame');
    frames.push({ index: Number(match[2]), name: match[1], data: JSON.parse(match[3]), frame: `${block}\n\n` });
  }
  return frames;
}
