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
export function createTurnOutput(options: {
  maxBuffered: number;
  /** Told of each event stream as it opens (1) and as it ends, fails or its reader leaves (-1). */
  streams?: (change: 1 | -1) => void;
}) {
  const counted = options.streams ?? (() => {});
  const stream = (feed: TurnFeed) => eventStream(feed, options.maxBuffered, counted);
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
 * only leaves the feed: the turn goes on. Frames wait in a backlog of references to the turn's
 * log (no copies) and are encoded only as the reader makes room, so a replay of a long turn costs
 * no memory per stream. A client that stops reading while the turn goes on is dropped once more
 * than `maxBuffered` bytes of live events wait for it (its connection fails; EventSource resumes
 * with Last-Event-ID).
 */
function eventStream(feed: TurnFeed, maxBuffered: number, counted: (change: 1 | -1) => void): Response {
  let following: Following | undefined;
  let subscriber: Subscriber | undefined;
  let replaying = true;
  let closed = false;
  let closing = false;
  let scheduled = false;
  const backlog: string[] = [];
  let head = 0;
  // Characters in the backlog, and those of them that came live (not in the replay).
  let waiting = 0;
  let replayWaiting = 0;
  let flush = () => {};
  let open = false;
  const ended = () => {
    if (!open) return;
    open = false;
    counted(-1);
  };
  const body = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        flush = () => {
          scheduled = false;
          if (closed) return;
          // Frames that are ready leave together, as much as the reader has room for.
          while (head < backlog.length && (controller.desiredSize ?? 0) > 0) {
            const room = controller.desiredSize ?? 0;
            let text = '';
            while (head < backlog.length && (text === '' || text.length + backlog[head].length <= room)) {
              text += backlog[head];
              head += 1;
            }
            const replayed = Math.min(replayWaiting, text.length);
            replayWaiting -= replayed;
            waiting -= text.length;
            controller.enqueue(encoder.encode(text));
          }
          // An enqueue can call pull, and so this, again: it may have finished the work.
          if (closed) return;
          if (head === backlog.length) {
            backlog.length = 0;
            head = 0;
          }
          if (closing && backlog.length === 0) {
            closed = true;
            ended();
            controller.close();
          }
        };
        const schedule = () => {
          if (scheduled) return;
          scheduled = true;
          defer(flush);
        };
        const write = (text: string) => {
          if (closed || closing) return;
          // Live frames already waiting past the limit (one frame, however large, always may wait).
          if (!replaying && waiting - replayWaiting > maxBuffered) {
            closed = true;
            backlog.length = 0;
            ended();
            controller.error(new Error(`more than ${maxBuffered} bytes unsent: the client does not read`));
            following?.leave();
            return;
          }
          backlog.push(text);
          waiting += text.length;
          if (replaying) replayWaiting += text.length;
          schedule();
        };
        subscriber = {
          waitsForApproval: true,
          deliver: (_event, frame) => write(frame),
          ping: () => write(pingFrame),
          close() {
            if (closed || closing) return;
            closing = true;
            flush();
          },
        };
      },
      pull() {
        flush();
      },
      cancel() {
        closed = true;
        ended();
        backlog.length = 0;
        following?.leave();
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: Math.min(maxBuffered, 65_536) }),
  );
  // Counted before following: a replay of an ended turn may close the stream within `follow`.
  open = true;
  counted(1);
  following = feed.follow(subscriber as Subscriber);
  replaying = false;
  if (following.result === 'nothing') {
    ended();
    return new Response(null, { status: 204 });
  }
  return new Response(body, { status: 200, headers: sseHeaders });
}
