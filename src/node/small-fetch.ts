import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

/**
 * A `fetch` on node:http for small requests, whose whole body is read before it resolves: the
 * upstream probe's. Node's own `fetch` builds its HTTP parser (WebAssembly, about 5 MiB that stay)
 * at its first connection, which the probe at start-up would otherwise pay for in a server nobody
 * has chatted with yet. String and byte bodies only; `signal` aborts it.
 */
export async function smallFetch(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
  const url = new URL(input instanceof Request ? input.url : input);
  const signal = init.signal ?? undefined;
  signal?.throwIfAborted();
  const body = init.body ?? undefined;
  if (body !== undefined && typeof body !== 'string' && !(body instanceof Uint8Array)) {
    throw new TypeError('smallFetch sends string and byte bodies only');
  }
  const send = url.protocol === 'https:' ? httpsRequest : url.protocol === 'http:' ? httpRequest : undefined;
  if (!send) throw new TypeError(`smallFetch cannot fetch ${url.protocol} URLs`);
  const { status, statusText, headers, bytes } = await new Promise<{
    status: number;
    statusText: string;
    headers: IncomingMessage['headersDistinct'];
    bytes: Buffer;
  }>((resolve, reject) => {
    const outgoing = send(
      url,
      { method: init.method ?? 'GET', headers: Object.fromEntries(new Headers(init.headers)), signal },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 502,
            statusText: response.statusMessage ?? '',
            headers: response.headersDistinct,
            bytes: Buffer.concat(chunks),
          }),
        );
      },
    );
    outgoing.on('error', (error) => reject(signal?.aborted ? signal.reason : error));
    outgoing.end(body);
  });
  const responseHeaders = new Headers();
  for (const [name, values] of Object.entries(headers)) {
    for (const value of values ?? []) responseHeaders.append(name, value);
  }
  const empty = status === 204 || status === 205 || status === 304 || init.method === 'HEAD';
  return new Response(empty ? null : new Uint8Array(bytes), { status, statusText, headers: responseHeaders });
}
