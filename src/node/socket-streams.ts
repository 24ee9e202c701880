import type { IncomingMessage, ServerResponse } from 'node:http';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { sseHeaders } from '../http/sse.js';
import {
  type EventStreamTransport,
  type FrameSink,
  queuedBytes,
  type StreamReader,
  webEventStreams,
} from '../http/turn-output.js';

/** What @hono/node-server passes as a request's bindings, with the event stream its handler made. */
interface NodeBindings {
  incoming?: IncomingMessage;
  outgoing?: ServerResponse;
  [pending]?: { reader: StreamReader; highWaterMark: number };
}

const pending = Symbol('event stream');

/**
 * Event streams written straight to the Node response, for @hono/node-server: no web stream, no
 * `Response` body, no reader between a frame and the socket, and the headers leave with the first
 * frames instead of in a write of their own. The handler answers with headers only (the app's
 * middleware adds to them as to any response) and leaves the stream in the request's bindings;
 * `withSocketStreams` wraps the app's fetch and, when that response comes out, writes its status
 * and headers and connects the stream to the socket.
 * Backpressure is the socket's: no more than `maxBuffered` (at most 64 KiB) bytes wait in it; the
 * rest waits in the stream's backlog until it drains. A request that does not come from a Node
 * socket (`app.request`) gets the web stream.
 */
export function socketEventStreams(maxBuffered: number): EventStreamTransport {
  const highWaterMark = queuedBytes(maxBuffered);
  const web = webEventStreams(highWaterMark);
  return (c, reader) => {
    const bindings = c.env as NodeBindings | undefined;
    if (!bindings?.outgoing) return web(c, reader);
    bindings[pending] = { reader, highWaterMark };
    return new Response(null, { status: 200, headers: sseHeaders });
  };
}

/** The app's fetch for @hono/node-server, writing the event streams of `socketEventStreams` to the socket. */
export function withSocketStreams<Bindings extends object>(
  appFetch: (request: Request, bindings: Bindings) => Response | Promise<Response>,
): (request: Request, bindings: Bindings) => Promise<Response> {
  return async (request, received) => {
    const bindings = received as NodeBindings;
    let response: Response;
    try {
      response = await appFetch(request, received);
    } catch (error) {
      bindings[pending]?.reader.cancel();
      throw error;
    }
    const stream = bindings[pending];
    if (!stream) return response;
    delete bindings[pending];
    // Another response took the stream's place (an error after the handler; Hono carries the
    // headers of a response on to the next, so it is told by its status and type): it never opens.
    if (response.status !== 200 || response.headers.get('content-type') !== sseHeaders['content-type']) {
      stream.reader.cancel();
      return response;
    }
    const outgoing = bindings.outgoing as ServerResponse;
    // The client left while the app was answering: its `close` has been and gone.
    if (outgoing.destroyed) {
      stream.reader.cancel();
      return RESPONSE_ALREADY_SENT;
    }
    const headers: Record<string, string | string[]> = {};
    response.headers.forEach((value, name) => {
      if (name !== 'set-cookie') headers[name] = value;
    });
    const cookies = response.headers.getSetCookie();
    if (cookies.length > 0) headers['set-cookie'] = cookies;
    outgoing.writeHead(response.status, headers);
    connect(outgoing, stream.reader, stream.highWaterMark);
    return RESPONSE_ALREADY_SENT;
  };
}

function connect(outgoing: ServerResponse, reader: StreamReader, highWaterMark: number) {
  let done = false;
  let sent = false;
  const sink: FrameSink = {
    room: () => (outgoing.destroyed ? 0 : highWaterMark - outgoing.writableLength),
    send(text) {
      if (outgoing.destroyed) return;
      sent = true;
      outgoing.write(text);
    },
    close() {
      done = true;
      outgoing.end();
    },
    fail(error) {
      done = true;
      outgoing.destroy(error);
    },
  };
  const gone = () => {
    if (done) return;
    done = true;
    reader.cancel();
  };
  outgoing.on('drain', () => reader.pull());
  outgoing.once('close', gone);
  outgoing.on('error', gone);
  reader.connect(sink);
  // Nothing to send yet: the headers go now, so that the client knows the stream is open.
  if (!sent && !done) outgoing.flushHeaders();
}
