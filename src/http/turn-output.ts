import type { Context } from 'hono';
import type { AttachResult, Subscriber, TurnChannels } from '../chat/turn-channels.js';
import type { TurnResponse } from '../chat/turn-events.js';
import type { TurnRun } from '../chat/turn-service.js';
import { AppError } from '../errors.js';
import { pingFrame, sseHeaders } from './sse.js';

/** Whether a request wants SSE: its `stream` field, else its Accept header, else the session default. */
export function wantsStream(c: Context, field: boolean | undefined, sessionDefault: boolean): boolean {
  if (field !== undefined) return field;
  if (c.req.header('accept')?.includes('text/event-stream')) return true;
  return sessionDefault;
}

/**
 * An SSE response following a session's turn. `follow` connects the stream's subscriber (starting
 * a run, or attaching to one); 'nothing' from it answers 204. The client going away only detaches.
 */
export function eventStream(
  channels: TurnChannels,
  sessionId: string,
  follow: (subscriber: Subscriber) => AttachResult | undefined,
): Response {
  let closed = false;
  let subscriber: Subscriber | undefined;
  // Frames delivered in one go (the events of one upstream read) leave as one write.
  let pending = '';
  let scheduled = false;
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
      if (subscriber) channels.detach(sessionId, subscriber);
    },
  });
  const result = follow(subscriber as Subscriber);
  if (result === 'nothing') return new Response(null, { status: 204 });
  return new Response(body, { status: 200, headers: sseHeaders });
}

const encoder = new TextEncoder();

/** After the current I/O callback's work: setImmediate where the runtime has it, else a microtask. */
const defer: (task: () => void) => void =
  typeof setImmediate === 'function' ? (task) => setImmediate(task) : (task) => queueMicrotask(task);

/** An SSE response that follows `run` from its first event. */
export function runAsStream(channels: TurnChannels, run: TurnRun): Response {
  return eventStream(channels, run.sessionId, (subscriber) => {
    channels.run(run, subscriber);
    return 'following';
  });
}

/** Runs a turn for a JSON request: resolves with the `done` data, rejects with the `error`. */
export function collectRun(channels: TurnChannels, run: TurnRun, requestSignal?: AbortSignal): Promise<TurnResponse> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const subscriber: Subscriber = {
      waitsForApproval: false,
      deliver(event) {
        if (settled) return;
        if (event.event === 'done') {
          settled = true;
          resolve(event.data);
        } else if (event.event === 'error') {
          settled = true;
          const { code, message, details } = event.data.error;
          reject(new AppError(event.status, code, message, details));
        }
      },
      close() {
        if (settled) return;
        settled = true;
        reject(new AppError(500, 'internal_error', 'The turn ended without a result.'));
      },
    };
    channels.run(run, subscriber);
    // A JSON client that leaves is not a stop: the turn runs on for the resume grace. Its request
    // ends here (nobody reads the answer), so the handler does not wait for the turn.
    requestSignal?.addEventListener(
      'abort',
      () => {
        channels.detach(run.sessionId, subscriber);
        if (settled) return;
        settled = true;
        reject(
          new AppError(499, 'client_closed_request', 'The client went away; the turn goes on for the resume grace.'),
        );
      },
      { once: true },
    );
  });
}
