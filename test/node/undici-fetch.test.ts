import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUndiciFetch } from '../../src/node/undici-fetch.js';

// The LLM clients' fetch on undici's `request` against a real node:http server: it must answer
// as `fetch` does, so that the clients (and the adapters' error mapping) see no difference.
const routes: Record<string, (request: IncomingMessage, body: string, response: ServerResponse) => void> = {
  '/echo': (request, body, response) => {
    response.setHeader('set-cookie', ['a=1', 'b=2']);
    response.writeHead(201, 'Made', { 'content-type': 'application/json' });
    response.end(JSON.stringify({ method: request.method, type: request.headers['content-type'], body }));
  },
  '/empty': (_request, _body, response) => {
    response.writeHead(204);
    response.end();
  },
  '/moved': (_request, _body, response) => {
    response.writeHead(302, { location: '/echo' });
    response.end();
  },
  '/dropped': (_request, _body, response) => {
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    response.write('data: one\n\n', () => response.socket?.destroy());
  },
  '/slow': () => {},
};
const server = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => routes[request.url ?? '']?.(request, Buffer.concat(chunks).toString(), response));
});
let base = '';
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

describe('the undici fetch', () => {
  const { fetch: undiciFetch, rawBody } = createUndiciFetch();

  it('sends the method, headers and body, and answers with status, status text, every header and the body', async () => {
    const response = await undiciFetch(`${base}/echo`, {
      method: 'POST',
      headers: new Headers({ 'content-type': 'application/json' }),
      body: '{"hi":1}',
    });
    expect(response.status).toBe(201);
    expect(response.statusText).toBe('Made');
    expect(response.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(await response.json()).toEqual({ method: 'POST', type: 'application/json', body: '{"hi":1}' });
  });

  it('gives the body as undici read it, without the web stream, to a reader that asks', async () => {
    const response = await undiciFetch(`${base}/echo`, { method: 'POST', body: 'raw' });
    const chunks: Uint8Array[] = [];
    for await (const chunk of rawBody(response) ?? []) chunks.push(chunk);
    expect(JSON.parse(Buffer.concat(chunks).toString()).body).toBe('raw');
  });

  it('answers a 204 with no body, and follows a redirect', async () => {
    const empty = await undiciFetch(`${base}/empty`, { method: 'POST', body: '' });
    expect(empty.status).toBe(204);
    expect(empty.body).toBeNull();
    const moved = await undiciFetch(`${base}/moved`);
    expect(moved.status).toBe(201);
    expect((await moved.json()).method).toBe('GET');
  });

  it('fails as fetch fails: a TypeError when the connection is refused or lost, the reason when aborted', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await expect(undiciFetch(`http://127.0.0.1:${port}/`)).rejects.toBeInstanceOf(TypeError);

    const dropped = await undiciFetch(`${base}/dropped`);
    await expect(dropped.text()).rejects.toBeInstanceOf(TypeError);

    const controller = new AbortController();
    const pending = undiciFetch(`${base}/slow`, { signal: controller.signal });
    const reason = new Error('stopped');
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
  });

  it('leaves to fetch a URL with credentials, which fetch refuses', async () => {
    await expect(undiciFetch(`http://user:secret@127.0.0.1:1/`)).rejects.toThrow(/credentials/);
  });
});
