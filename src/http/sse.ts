import type { TurnEvent } from '../chat/turn-events.js';

/** Headers of every event stream (API.md): no caching, no proxy buffering. */
export const sseHeaders = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
} as const;

/**
 * One SSE frame: `event:`, `id:` and a single `data:` line. The data is JSON, whose encoding
 * escapes every newline, so no content can start a field of its own.
 */
export function encodeEvent(event: TurnEvent, id: string): string {
  return `event: ${event.event}\nid: ${id}\ndata: ${JSON.stringify(event.data)}\n\n`;
}

export const pingFrame = ': ping\n\n';
