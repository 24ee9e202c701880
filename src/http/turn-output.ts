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

/** How turn feeds leave as HTTP responses, with the server's stream limits. */
export function createTurnOutput(options: { maxBuffered: number }) {
  const stream = (feed: TurnFeed) => eventStream(feed, options.maxBuffered);
  return {
    /** The feed as an event stream (204 when it has nothing to send). */
    stream,
    /** The feed as the request wants it: an event stream, or the JSON of its `done` (`extra` merged in). */
    async respond(c: Context, feed: TurnFeed, streamField: boolean | undefined, extra?: Record<string, unknown>) {
      if (wantsStream(c, streamField, feed.streams)) return stream(feed);
      return c.json({ ...(await collectTurn(feed, c.req.raw.signal)), ...extra }, 200);
    },
  };
}

export type TurnOutput = ReturnType<typeof createTurnOutput>;

const encoder = new TextEncoder();

/** After the current I/O callback's work: setImmediate where the runtime has it, else a microtask. */
const defer: (task: () => void) => void =
  typeof setImmediate === 'function' ? (task) => setImmediate(task) : (task) => queueMicrotask(task);

/**
 * An SSE response following a feed; 204 when the feed has nothing to send. The client going away
 * only leaves the feed: the turn goes on. A client that reads slower than the turn writes is
 * dropped once `maxBuffered` bytes wait for it (its connection fails; EventSource resumes with
 * Last-Event-ID), so a stalled reader costs at most that much memory.
 */
function eventStream(feed: TurnFeed, maxBuffered: number): Response {
  let closed = false;
  let following: Following | undefined;
  // Frames delivered in one go (the events of one upstream read) leave as one write.
  let pending = '';
  let scheduled = false;
  let subscriber: Subscriber | undefined;
  const body = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        const flush = () => {
          scheduled = false;
          if (closed || pending === '') return;
          // What is still queued from earlier flushes is what the reader has not taken.
          if ((controller.desiredSize ?? 0) < 0) {
            closed = true;
            controller.error(new Error(`more than ${maxBuffered} bytes unsent: the client does not read`));
            following?.leave();
            return;
          }
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
    },
    new ByteLengthQueuingStrategy({ highWaterMark: maxBuffered }),
  );
  following = feed.follow(subscriber as Subscriber);
  if (following.result === 'nothing') return new Response(null, { status: 204 });
  return new Response(body, { status: 200, headers: sseHeaders });
}
