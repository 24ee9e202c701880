import type { Context, MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import { timingSafeEqual } from 'hono/utils/buffer';
import { AppError } from '../errors.js';

export interface SecurityOptions {
  /** The address the server is bound to: the Host check applies while it is a loopback one. */
  host: string;
  authToken?: string;
  /** The approvers' token: when set, the only one that may decide tool calls and read the inbox and audit trail. */
  approverToken?: string;
  /** Host values accepted besides loopback names. */
  allowedHosts: string[];
  /** Origins allowed to call from a browser; they alone get CORS headers. */
  corsOrigins: string[];
  /** Paths whose GET needs no token because they hold no data (the chat page's shell and assets). */
  publicPaths?: ReadonlySet<string>;
}

const loopbackHostname = /^(localhost|.+\.localhost|127(\.\d{1,3}){3}|\[::1\]|::1)$/i;

export const isLoopback = (hostname: string) => loopbackHostname.test(hostname);

function hostnameOf(host: string): string {
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.lastIndexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

/**
 * GET routes that start or resume work, which a hostile page must not trigger cross-site, with the
 * methods their path takes (the `Allow` of the 405 that HEAD gets there).
 */
const workStartingGets = new Map([
  ['/user_request', 'GET, POST'],
  ['/events', 'GET'],
]);

/** The streaming GETs, which EventSource calls without headers: the only routes that take `?access_token=`. */
const queryTokenPaths = new Set(['/user_request', '/events', '/approvals/events']);

/** The routes of approvers: with --approver-token, only that token may call them. */
const approverRoutes = new Set(['POST /approve', 'GET /approvals', 'GET /approvals/events', 'GET /audit']);

/** Who a request's token says decides a tool call: the approver token's holder, or the chat's user. */
export const deciderOf = (c: Context): 'user' | 'approver' => (c.get('decider') === 'approver' ? 'approver' : 'user');

/** `Sec-Fetch-Site` values of the server's own pages and of typed URLs; absent from non-browsers. */
const ownSites = new Set(['same-origin', 'none']);

/**
 * The checks of API.md's Security section, in order: no framing of HTML, Host (DNS rebinding),
 * Origin, work-starting GETs (no HEAD, not from another site), CORS for listed origins, and the
 * bearer token.
 */
export function security(options: SecurityOptions): MiddlewareHandler[] {
  const checkHost = isLoopback(options.host) || options.host === 'localhost';
  const allowedHosts = new Set(options.allowedHosts.map((host) => host.toLowerCase()));
  const corsOrigins = new Set(options.corsOrigins);

  const hostAndOrigin: MiddlewareHandler = async (c, next) => {
    const url = new URL(c.req.url);
    const host = (c.req.header('host') ?? url.host).toLowerCase();
    if (checkHost && !isLoopback(hostnameOf(host)) && !allowedHosts.has(host) && !allowedHosts.has(hostnameOf(host))) {
      throw new AppError('forbidden_host', `Host "${host}" is not accepted; list it with --allowed-hosts.`);
    }
    const origin = c.req.header('origin');
    const allowedOrigin = origin !== undefined && (origin === `${url.protocol}//${host}` || corsOrigins.has(origin));
    if (origin !== undefined && !allowedOrigin) {
      throw new AppError('forbidden_origin', `Origin "${origin}" is not allowed; list it with --cors-origin.`);
    }
    const allow = workStartingGets.get(c.req.path);
    if (allow !== undefined && c.req.method === 'HEAD') {
      // Hono answers HEAD with the GET handler, which here would start a turn: HEAD must not.
      c.header('Allow', allow);
      throw new AppError('method_not_allowed', `HEAD is not allowed on ${c.req.path}: a GET there starts work.`);
    }
    if (c.req.path === '/approvals/events' && c.req.method === 'HEAD') {
      // Nor open a stream nobody reads, which would hold a place among the inbox's followers.
      c.header('Allow', 'GET');
      throw new AppError('method_not_allowed', 'HEAD is not allowed on /approvals/events: a GET there opens a stream.');
    }
    const site = c.req.header('sec-fetch-site');
    if (allow !== undefined && c.req.method === 'GET' && site !== undefined && !ownSites.has(site) && !allowedOrigin) {
      // `same-site` too: another port of localhost is another origin, and may be hostile.
      throw new AppError(
        'forbidden_origin',
        'A request from another site or origin may not start work; list its origin with --cors-origin.',
      );
    }
    await next();
  };

  // HTML (the chat page with its Approve buttons, /docs) must never be framed by another page.
  const noFraming: MiddlewareHandler = async (c, next) => {
    await next();
    if (!c.res.headers.get('content-type')?.startsWith('text/html')) return;
    if (!c.res.headers.has('x-frame-options')) c.res.headers.set('X-Frame-Options', 'DENY');
    if (!c.res.headers.has('content-security-policy')) {
      c.res.headers.set('Content-Security-Policy', "frame-ancestors 'none'");
    }
  };

  const handlers: MiddlewareHandler[] = [noFraming, hostAndOrigin];
  if (corsOrigins.size > 0) {
    handlers.push(
      cors({
        origin: (origin) => (corsOrigins.has(origin) ? origin : null),
        allowHeaders: ['Content-Type', 'Authorization', 'X-Session-Id', 'Last-Event-ID', 'X-Request-Id'],
        exposeHeaders: ['X-Request-Id'],
        allowMethods: ['GET', 'POST', 'OPTIONS'],
        maxAge: 600,
      }),
    );
  }
  const token = options.authToken;
  const approverToken = options.approverToken;
  if (token || approverToken) {
    const matches = async (given: string | undefined, expected: string | undefined) =>
      given !== undefined && expected !== undefined && (await timingSafeEqual(given, expected));
    const unauthorized = (c: Context, which: string) => {
      c.header('WWW-Authenticate', 'Bearer');
      return new AppError('unauthorized', `Send the ${which} as "Authorization: Bearer <token>".`);
    };
    handlers.push(async (c, next) => {
      if (c.req.method === 'GET' && (c.req.path === '/health' || options.publicPaths?.has(c.req.path))) return next();
      const header = c.req.header('authorization');
      let given = header?.startsWith('Bearer ') ? header.slice(7) : undefined;
      // Only the streaming GETs, for EventSource, which cannot send headers: a token in a URL leaks
      // into history and proxy logs, so no other route takes one.
      if (given === undefined && c.req.method === 'GET' && queryTokenPaths.has(c.req.path)) {
        given = c.req.query('access_token');
      }
      if (approverToken && approverRoutes.has(`${c.req.method === 'HEAD' ? 'GET' : c.req.method} ${c.req.path}`)) {
        if (await matches(given, approverToken)) {
          c.set('decider', 'approver');
          return next();
        }
        if (await matches(given, token)) {
          throw new AppError(
            'approver_token_required',
            'Only the approver token (--approver-token) may decide tool calls and read the approval inbox and audit trail; the chat token may not.',
          );
        }
        throw unauthorized(c, 'approver token (--approver-token)');
      }
      if (token && !(await matches(given, token))) throw unauthorized(c, "server's token");
      await next();
    });
  }
  return handlers;
}
