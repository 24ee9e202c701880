import { createParser } from 'eventsource-parser';
import type { TurnEvent } from '../chat/turn-events.js';

/** A turn event as it came on the wire, with its id (`sequence.index`) for `Last-Event-ID`. */
export type ReceivedEvent = TurnEvent & { id?: string };

/**
 * The events of an SSE response body, parsed as they arrive. Ends when the body ends; throws what
 * reading the body throws (a dropped connection). Comments (`: ping`) are skipped.
 */
export async function* readEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ReceivedEvent> {
  const queue: ReceivedEvent[] = [];
  const parser = createParser({
    onEvent(message) {
      if (!message.event) return;
      queue.push({ event: message.event, data: JSON.parse(message.data), id: message.id } as ReceivedEvent);
    },
  });
  const decoder = new TextDecoder();
  const reader = body.getReader();
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) return;
      parser.feed(decoder.decode(value, { stream: true }));
      while (queue.length > 0) yield queue.shift()!;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}
