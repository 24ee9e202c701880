import type { Context } from 'hono';
import { collectTurn } from '../chat/collect-turn.js';
import type { Following, TurnFeed } from '../chat/conversations.js';
import { pingFrame } from '../chat/event-frame.js';
import type { Subscriber } from '../chat/turn-channels.js';
import { sseHeaders } from './sse.js';

/** Whether a request wants SSE: its `stream` field, else its Accept header, else the session default. */
export function wantsStream(c: Context, field: boolean | undefined, sessionDefault: boolean): boolean {
  if (field !== undefined) return field;
  if (c.req.header('accept')?.includes('text/event-stream')) return true;
  return sessionDefault;
}

/** The feed as the request wants it: an event stream, or the JSON of its `done`. */
export async function turnOutput(c: Context, feed: TurnFeed, streamField: boolean | undefined) {
  if (wantsStream(c, streamField, feed.streams)) return eventStream(feed);
  return c.json(await collectTurn(feed, c.req.raw.signal), 200);
}

const encoder = new TextEncoder();

/** After the current I/O callback's work: setImmediate where the runtime has it, else a microtask. */
const defer: (task: () => void) => void =
  typeof setImmediate === 'function' ? (task) => setImmediate(task) : (task) => queueMicrotask(task);

/**
 * An SSE response following a feed; 204 when the feed has nothing to send. The client going away
 * only leaves the feed: the turn goes on.
 */
export function eventStream(feed: TurnFeed): Response {
  let closed = false;
  let following: Following | undefined;
  // Frames delivered in one go (the events of one upstream read) leave as one write.
  let pending = '';
  let scheduled = false;
  let subscriber: Subscriber | undefined;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      const flush = () => {
        scheduled = false;
        if (closed || pending === '') return;
        controller.enqueue(encoder.encode(pending));
        pending = '';
      };
      const write = (text: string) => {
        if (closed) return;
        pending += text;
        if (!scheduled) {
          scheduled = true;
          defer(flush);
        }
      };
      subscriber = {
        waitsForApproval: true,
        deliver: (_event, frame) => write(frame),
        ping: () => write(pingFrame),
        close() {
          if (closed) return;
          flush();
          closed = true;
          controller.close();
        },
      };
    },
    cancel() {
      closed = true;
      following?.leave();
    },
  });
  following = feed.follow(subscriber as Subscriber);
  if (following.result === 'nothing') return new Response(null, { status: 204 });
  return new Response(body, { status: 200, headers: sseHeaders });
}
