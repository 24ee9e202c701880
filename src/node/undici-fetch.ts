import { Agent, type Dispatcher, interceptors, request } from 'undici';

/** Statuses whose response has no body, for which `Response` takes none. */
const nullBodyStatuses = new Set([204, 205, 304]);

export interface UndiciFetch {
  fetch: typeof fetch;
  /**
   * The body of a response `fetch` made, as undici gave it (a Node stream): reading it costs less
   * per chunk than reading `response.body`, the web stream over it. One of the two is read.
   */
  rawBody(response: Response): AsyncIterable<Uint8Array> | undefined;
}

/**
 * A `fetch` for the LLM clients on undici's `request`, the API undici (Node's own HTTP client)
 * offers beside its `fetch`: the same connection pool and parser, without the fetch standard's
 * request and response objects, its web streams inside and its per-request bookkeeping. It answers
 * with a standard `Response`, so the clients see no difference. Node's `fetch` takes the calls it
 * does not cover (a `Request` as input, a body other than a string or bytes). Redirects are
 * followed as `fetch` does (up to 20).
 */
export function createUndiciFetch(): UndiciFetch {
  const bodies = new WeakMap<Response, AsyncIterable<Uint8Array>>();
  const dispatcher = new Agent().compose(interceptors.redirect({ maxRedirections: 20 }));
  const undiciFetch: typeof fetch = async (input, init = {}) => {
    const body = init.body ?? undefined;
    const url = input instanceof Request ? undefined : new URL(input);
    // What `request` does not do as `fetch` does goes to `fetch`: a `Request`, a streamed or form
    // body, and a URL with credentials (which `fetch` refuses).
    if (
      !url ||
      url.username ||
      url.password ||
      (body !== undefined && typeof body !== 'string' && !(body instanceof Uint8Array))
    ) {
      return fetch(input, init);
    }
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, name) => {
      headers[name] = value;
    });
    const method = init.method ?? 'GET';
    const signal = init.signal ?? undefined;
    let answer: Dispatcher.ResponseData;
    try {
      answer = await request(url, { method, headers, body, signal, dispatcher });
    } catch (error) {
      // As `fetch` fails: with the signal's reason once aborted, else a TypeError.
      if (signal?.aborted) throw signal.reason;
      throw new TypeError('fetch failed', { cause: error });
    }
    const responseHeaders = new Headers();
    for (const [name, value] of Object.entries(answer.headers)) {
      if (Array.isArray(value)) for (const each of value) responseHeaders.append(name, each);
      else if (value !== undefined) responseHeaders.append(name, value);
    }
    const empty = nullBodyStatuses.has(answer.statusCode) || method === 'HEAD';
    if (empty) answer.body.resume();
    const response = new Response(empty ? null : (fetchBody(answer.body) as unknown as BodyInit), {
      status: answer.statusCode,
      statusText: answer.statusText,
      headers: responseHeaders,
    });
    if (!empty) bodies.set(response, answer.body);
    return response;
  };
  return { fetch: undiciFetch, rawBody: (response) => bodies.get(response) };
}

/** A body as `fetch` gives it: a connection lost midway fails it with a TypeError. */
async function* fetchBody(body: AsyncIterable<Uint8Array>) {
  try {
    yield* body;
  } catch (error) {
    throw new TypeError('terminated', { cause: error });
  }
}
