import type { ApprovalInbox, InboxSubscriber } from '../approvals/approval-inbox.js';
import { pingFrame } from '../chat/event-frame.js';
import { sseHeaders } from './sse.js';

const encoder = new TextEncoder();

/**
 * The approval inbox as an SSE response: the snapshot or the replay after `lastEventId`, then live
 * events, until the client goes away. A client that stops reading is dropped once more than
 * `maxBuffered` bytes wait for it (its connection fails; EventSource resumes with Last-Event-ID).
 */
export async function inboxStream(inbox: ApprovalInbox, lastEventId: string | undefined, maxBuffered: number) {
  let leave: (() => void) | undefined;
  let closed = false;
  let subscriber: InboxSubscriber | undefined;
  const body = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        const write = (frame: string) => {
          if (closed) return;
          if ((controller.desiredSize ?? 0) < -maxBuffered) {
            closed = true;
            controller.error(new Error(`more than ${maxBuffered} bytes unsent: the client does not read`));
            leave?.();
            return;
          }
          controller.enqueue(encoder.encode(frame));
        };
        subscriber = { deliver: write, ping: () => write(pingFrame) };
      },
      cancel() {
        closed = true;
        leave?.();
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: Math.min(maxBuffered, 65_536) }),
  );
  leave = await inbox.follow(subscriber as InboxSubscriber, lastEventId);
  if (closed) leave();
  return new Response(body, { status: 200, headers: sseHeaders });
}
