import type { Remember } from '../approvals/grants.js';
import type { TurnResponse } from '../chat/turn-events.js';
import type { SessionState } from '../http/schemas.js';
import { ChatClientError, networkError, responseError } from './errors.js';
import { type ReceivedEvent, readEvents } from './event-stream.js';

export interface ChatClientOptions {
  /** The server's URL (default: this page's origin, in a browser). */
  baseUrl?: string;
  /** The bearer token of a server run with `--auth-token`; a function is asked before each request. */
  token?: string | (() => string | undefined);
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
  /**
   * Milliseconds to wait before each attempt to resume a dropped stream; the last one repeats until
   * the stream resumes or the caller's signal aborts (default 500, 1000, 2000, 4000, 8000).
   */
  retryDelays?: number[];
  /** How to wait `milliseconds` (default `setTimeout`); tests pass one they control. */
  wait?: (milliseconds: number, signal?: AbortSignal) => Promise<void>;
}

/** Settings of a new session; each one left out takes the server's. See `POST /start_session`. */
export interface SessionOptions {
  current_directory?: string;
  llm_provider?: 'ollama' | 'openai';
  model?: string;
  temperature?: number;
  context_window_size?: number;
  stream?: boolean;
  system_prompt?: string;
}

export interface StreamOptions {
  /** The session (default: the server's default session). */
  sessionId?: string;
  /** Aborting it closes the stream; the turn runs on (see `stop`). */
  signal?: AbortSignal;
  /** Told before each attempt to resume a dropped connection, with the error that dropped it. */
  onReconnecting?: (attempt: number, error: ChatClientError) => void;
  /** Told once a dropped stream has resumed. */
  onReconnected?: () => void;
}

export interface Decision {
  request_id: string;
  approve: boolean;
  /** Told to the model when the call is denied. */
  reason?: string;
  /**
   * What the approval also approves: `once` (or `call`): nothing; `session`: later calls of this
   * tool on this server in this session; `{ for: '10m' | 'session', arguments?: 'same' }`: later
   * calls for that long, only with exactly these arguments with `same`.
   */
  remember?: Remember;
  /** Only when approving: the arguments to run the call with instead of the model's. */
  arguments?: Record<string, unknown>;
}

/**
 * What a decision led to: `continued` (every call decided; the continuation's events), `waiting`
 * (other calls of the step still wait; the turn response names the next), or `accepted` (the
 * continuation flows on a stream that was waiting for it, or was deferred).
 */
export type DecisionOutcome =
  | { kind: 'continued'; events: AsyncIterable<ReceivedEvent> }
  | { kind: 'waiting'; response: TurnResponse }
  | { kind: 'accepted'; request_id: string; status: 'approved' | 'denied'; delivered: 'stream' | 'deferred' };

const defaultDelays = [500, 1000, 2000, 4000, 8000];

const timeout = (milliseconds: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, milliseconds);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });

const isTerminal = (event: ReceivedEvent) => event.event === 'done' || event.event === 'error';

/**
 * A typed client of llm-chat-server's HTTP API, on `fetch` and `ReadableStream` only: it runs in
 * browsers, Node ≥ 20, Bun and Workers. Streams are async iterables of the turn events; a dropped
 * stream resumes by itself with `Last-Event-ID`; every failed request throws a `ChatClientError`
 * with the server's error code.
 */
export function createChatClient(options: ChatClientOptions = {}) {
  const base = options.baseUrl ?? globalThis.location?.origin ?? '';
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));
  const delays = options.retryDelays ?? defaultDelays;
  const wait = options.wait ?? timeout;
  const token = () => (typeof options.token === 'function' ? options.token() : options.token);

  const url = (path: string, query: Record<string, string | number | undefined> = {}) => {
    const target = new URL(path, base || undefined);
    for (const [key, value] of Object.entries(query))
      if (value !== undefined) target.searchParams.set(key, String(value));
    return target.toString();
  };

  async function request(
    method: string,
    path: string,
    init: {
      body?: unknown;
      query?: Record<string, string | number | undefined>;
      headers?: Record<string, string>;
      signal?: AbortSignal;
    } = {},
  ) {
    const headers: Record<string, string> = { accept: 'application/json', ...init.headers };
    const bearer = token();
    if (bearer) headers.authorization = `Bearer ${bearer}`;
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await doFetch(url(path, init.query), {
        method,
        headers,
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
        signal: init.signal,
      });
    } catch (error) {
      if (init.signal?.aborted) throw error;
      throw networkError(error);
    }
    if (!response.ok) throw await responseError(response);
    return response;
  }

  const isStream = (response: Response) => response.headers.get('content-type')?.startsWith('text/event-stream');

  /**
   * The events of a stream that began with `first`; when the connection drops before `done` or
   * `error`, it resumes from the last event id on `GET /events`, waiting between attempts.
   */
  async function* resumable(first: () => Promise<Response>, stream: StreamOptions): AsyncGenerator<ReceivedEvent> {
    let lastEventId: string | undefined;
    let sessionId = stream.sessionId;
    let response: Response | undefined = await first();
    let attempt = 0;
    while (true) {
      if (response) {
        if (response.status === 204 || !response.body) return;
        if (attempt > 0) stream.onReconnected?.();
        attempt = 0;
        try {
          for await (const event of readEvents(response.body)) {
            if (event.id) lastEventId = event.id;
            if (event.event === 'session') sessionId ??= event.data.session_id;
            yield event;
            if (isTerminal(event)) return;
          }
        } catch (error) {
          if (stream.signal?.aborted) throw error;
        }
      }
      // The connection ended before the turn did: resume after the last event seen.
      if (lastEventId === undefined) throw networkError('the stream ended before its first event');
      const delay = delays[Math.min(attempt, delays.length - 1)] ?? 1000;
      attempt += 1;
      stream.onReconnecting?.(attempt, networkError('the stream was cut'));
      await wait(delay, stream.signal);
      try {
        response = await request('GET', '/events', {
          query: { session_id: sessionId },
          headers: { accept: 'text/event-stream', 'last-event-id': lastEventId },
          signal: stream.signal,
        });
      } catch (error) {
        if (error instanceof ChatClientError && error.code === 'network_error') {
          response = undefined;
          continue;
        }
        throw error;
      }
    }
  }

  return {
    /** Starts a session with these settings (the server's for any left out); `POST /start_session`. */
    async startSession(settings: SessionOptions = {}): Promise<SessionState> {
      return (await request('POST', '/start_session', { body: settings })).json();
    },

    /** A session's settings, status, a page of its history and its pending approvals. */
    async sessionState(sessionId?: string, page: { limit?: number; before?: number } = {}): Promise<SessionState> {
      return (await request('GET', '/session_state', { query: { session_id: sessionId, ...page } })).json();
    },

    /**
     * Sends the user's input (`POST /user_request`, streamed) and yields the turn's events, `session`
     * first and `done` or `error` last. Throws `ChatClientError` when the turn cannot start (such as
     * 409 `approval_pending`).
     */
    send(input: string, stream: StreamOptions = {}): AsyncIterable<ReceivedEvent> {
      return resumable(
        () =>
          request('POST', '/user_request', {
            body: { input, stream: true, session_id: stream.sessionId },
            headers: { accept: 'text/event-stream' },
            signal: stream.signal,
          }),
        stream,
      );
    },

    /**
     * Follows the session's running turn from its first event, or from after `lastEventId`
     * (`GET /events`); yields nothing when no turn runs.
     */
    follow(stream: StreamOptions & { lastEventId?: string } = {}): AsyncIterable<ReceivedEvent> {
      return resumable(
        () =>
          request('GET', '/events', {
            query: { session_id: stream.sessionId },
            headers: {
              accept: 'text/event-stream',
              ...(stream.lastEventId ? { 'last-event-id': stream.lastEventId } : {}),
            },
            signal: stream.signal,
          }),
        stream,
      );
    },

    /** Decides pending tool calls (`POST /approve`, one batch); the continuation comes streamed. */
    async decide(decisions: Decision[], stream: StreamOptions = {}): Promise<DecisionOutcome> {
      const response = await request('POST', '/approve', {
        body: { decisions, session_id: stream.sessionId, stream: true },
        headers: { accept: 'text/event-stream' },
        signal: stream.signal,
      });
      if (isStream(response)) {
        const used = { value: false };
        const first = async () => {
          if (used.value) throw networkError('the continuation can only be read once');
          used.value = true;
          return response;
        };
        return { kind: 'continued', events: resumable(first, stream) };
      }
      const body = await response.json();
      return response.status === 202 ? { kind: 'accepted', ...body } : { kind: 'waiting', response: body };
    },

    /** Approves one call; `remember` (see `Decision`) also approves later calls of the tool. */
    approve(requestId: string, stream: StreamOptions & { remember?: Remember } = {}) {
      return this.decide([{ request_id: requestId, approve: true, remember: stream.remember }], stream);
    },

    /** Denies one call; the model is told `reason`. */
    deny(requestId: string, reason?: string, stream: StreamOptions = {}) {
      return this.decide([{ request_id: requestId, approve: false, reason }], stream);
    },

    /** Stops the session's turn (`POST /stop`); its streams end with `done` and `stopped: true`. */
    async stop(sessionId?: string): Promise<void> {
      await request('POST', '/stop', { body: { session_id: sessionId } });
    },

    /**
     * The URL of `GET /user_request` (with `input`) or `GET /events` for an `EventSource`, with the
     * token as `access_token` (EventSource cannot send headers).
     */
    eventSourceUrl(query: { input?: string; sessionId?: string }): string {
      return url(query.input === undefined ? '/events' : '/user_request', {
        input: query.input,
        session_id: query.sessionId,
        access_token: token(),
      });
    },
  };
}

export type ChatClient = ReturnType<typeof createChatClient>;
