import type { Context } from 'hono';

interface RuntimeBindings {
  /** @hono/node-server's: the Node request, with its socket. */
  incoming?: { socket?: { remoteAddress?: string } };
  /** Bun's server, passed as the bindings by `Bun.serve({ fetch: app.fetch })`. */
  requestIP?: (request: Request) => { address: string } | null;
}

/**
 * The address of the peer that sent the request, as the runtime tells it (Node's socket, Bun's
 * `requestIP`); undefined where it does not (Workers, `app.request`). Headers such as
 * X-Forwarded-For are not read: any client can send them.
 */
export function clientAddress(c: Context): string | undefined {
  const bindings = c.env as RuntimeBindings | undefined;
  const address = bindings?.incoming?.socket?.remoteAddress;
  if (address) return address;
  if (typeof bindings?.requestIP === 'function') return bindings.requestIP(c.req.raw)?.address;
  return undefined;
}
