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

/** Where an event stream's frames go once its reader is there (see `EventStreamTransport`). */
export interface FrameSink {
  /** How many more characters the reader has room for now; at 0 or less, nothing is sent until `pull`. */
  room(): number;
  send(text: string): void;
  close(): void;
  fail(error: Error): void;
}

/** What a transport tells the stream: its sink once connected, room again, the reader gone. */
export interface StreamReader {
  connect(sink: FrameSink): void;
  pull(): void;
  cancel(): void;
}

/**
 * Makes the 200 response of an event stream and connects the stream's sink, at once or once the
 * response is on its way. The default (every runtime) is a web `ReadableStream` body; the Node
 * entry writes frames straight to the socket (`src/node/socket-streams.ts`).
 */
export type EventStreamTransport = (c: Context, reader: StreamReader) => Response;

const encoder = new TextEncoder();

/** Frames as the chunks of a web `ReadableStream` body, at most `highWaterMark` bytes queued. */
export function webEventStreams(highWaterMark: number): EventStreamTransport {
  return (_c, reader) =>
    new Response(
      new ReadableStream<Uint8Array>(
        {
          start(controller) {
            reader.connect({
              room: () => controller.desiredSize ?? 0,
              send: (text) => controller.enqueue(encoder.encode(text)),
              close: () => controller.close(),
              fail: (error) => controller.error(error),
            });
          },
          pull: () => reader.pull(),
          cancel: () => reader.cancel(),
        },
        new ByteLengthQueuingStrategy({ highWaterMark }),
      ),
      { status: 200, headers: sseHeaders },
    );
}

/** The most an event stream queues for its reader beyond its backlog, in bytes. */
export const queuedBytes = (maxBuffered: number) => Math.min(maxBuffered, 65_536);

/** How turn feeds leave as HTTP responses, with the server's stream limits. */
export function createTurnOutput(options: {
  maxBuffered: number;
  /** Told of each event stream as it opens (1) and as it ends, fails or its reader leaves (-1). */
  streams?: (change: 1 | -1) => void;
  /** How event streams leave (default: `webEventStreams`). */
  transport?: EventStreamTransport;
}) {
  const counted = options.streams ?? (() => {});
  const transport = options.transport ?? webEventStreams(queuedBytes(options.maxBuffered));
  const stream = (c: Context, feed: TurnFeed) => eventStream(c, feed, options.maxBuffered, counted, transport);
  return {
    /** The feed as an event stream (204 when it has nothing to send). */
    stream,
    /** The feed as the request wants it: an event stream, or the JSON of its `done` (`extra` merged in). */
    async respond(c: Context, feed: TurnFeed, streamField: boolean | undefined, extra?: Record<string, unknown>) {
      if (wantsStream(c, streamField, feed.streams)) return stream(c, feed);
      return c.json({ ...(await collectTurn(feed, c.req.raw.signal)), ...extra }, 200);
    },
  };
}

export type TurnOutput = ReturnType<typeof createTurnOutput>;

/** After the current I/O callback's work: setImmediate where the runtime has it, else a microtask. */
const defer: (task: () => void) => void =
  typeof setImmediate === 'function' ? (task) => setImmediate(task) : (task) => queueMicrotask(task);

/**
 * An SSE response following a feed; 204 when the feed has nothing to send. The client going away
 * only leaves the feed: the turn goes on. Frames wait in a backlog of references to the turn's
 * log (no copies) and are encoded only as the reader makes room, so a replay of a long turn costs
 * no memory per stream. A client that stops reading while the turn goes on is dropped once more
 * than `maxBuffered` bytes of live events wait for it (its connection fails; EventSource resumes
 * with Last-Event-ID). Frames that come before the transport connects the sink wait for it.
 */
function eventStream(
  c: Context,
  feed: TurnFeed,
  maxBuffered: number,
  counted: (change: 1 | -1) => void,
  transport: EventStreamTransport,
): Response {
  let following: Following | undefined;
  let sink: FrameSink | undefined;
  let replaying = true;
  // Nothing more is sent: the stream ended, failed or lost its reader.
  let closed = false;
  // The feed ended: the stream closes once its backlog is sent.
  let closing = false;
  // Why the stream failed before its sink was connected.
  let failure: Error | undefined;
  let scheduled = false;
  const backlog: string[] = [];
  let head = 0;
  // Characters in the backlog, and those of them that came live (not in the replay).
  let waiting = 0;
  let replayWaiting = 0;
  let open = false;
  const ended = () => {
    if (!open) return;
    open = false;
    counted(-1);
  };
  const flush = () => {
    scheduled = false;
    if (closed || !sink) return;
    // Frames that are ready leave together, as much as the reader has room for.
    while (head < backlog.length && sink.room() > 0) {
      const room = sink.room();
      let text = '';
      while (head < backlog.length && (text === '' || text.length + backlog[head].length <= room)) {
        text += backlog[head];
        head += 1;
      }
      const replayed = Math.min(replayWaiting, text.length);
      replayWaiting -= replayed;
      waiting -= text.length;
      sink.send(text);
    }
    // A send can call pull, and so this, again: it may have finished the work.
    if (closed) return;
    if (head === backlog.length) {
      backlog.length = 0;
      head = 0;
    }
    if (closing && backlog.length === 0) {
      closed = true;
      ended();
      sink.close();
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
      failure = new Error(`more than ${maxBuffered} bytes unsent: the client does not read`);
      sink?.fail(failure);
      following?.leave();
      return;
    }
    backlog.push(text);
    waiting += text.length;
    if (replaying) replayWaiting += text.length;
    schedule();
  };
  const subscriber: Subscriber = {
    waitsForApproval: true,
    deliver: (_event, frame) => write(frame),
    ping: () => write(pingFrame),
    close() {
      if (closed || closing) return;
      closing = true;
      flush();
    },
  };
  // Counted before following: a replay of an ended turn may close the stream within `follow`.
  open = true;
  counted(1);
  following = feed.follow(subscriber);
  replaying = false;
  if (following.result === 'nothing') {
    ended();
    return new Response(null, { status: 204 });
  }
  return transport(c, {
    connect(connected) {
      sink = connected;
      if (failure) connected.fail(failure);
      else flush();
    },
    pull: flush,
    cancel() {
      closed = true;
      ended();
      backlog.length = 0;
      following?.leave();
    },
  });
}
