import { limitHistory } from '../chat/history-limit.js';
import type { Clock } from '../clock.js';
import { AppError } from '../errors.js';
import type { Provider } from '../llm/provider.js';
import type { SessionStore } from '../store/session-store.js';
import type { DirectoryGuard } from './directory-guard.js';
import { createRateLimiter } from './rate-limiter.js';
import type { SessionRecord } from './session-record.js';
import type { SessionSettings } from './session-settings.js';

/** What a new session starts with when `/start_session` leaves a field out. */
export interface SessionDefaults {
  provider: Provider;
  model: string;
  temperature: number;
  contextWindowSize: number;
  stream: boolean;
  currentDirectory: string;
  systemPrompt?: string;
}

export interface SessionServiceOptions {
  store: SessionStore;
  directories: DirectoryGuard;
  defaults: SessionDefaults;
  ttlMilliseconds: number;
  requireSessionId: boolean;
  /** Sessions one client may start a minute (0: no limit). */
  sessionsPerMinute: number;
  /** Most characters of history a session keeps; older whole exchanges are dropped on save. */
  maxHistoryChars: number;
  newSessionId: () => string;
  clock: Clock;
}

export type SessionService = ReturnType<typeof createSessionService>;

const unknownSession = (id: string) =>
  new AppError('unknown_session', `Session ${id} does not exist or has expired; start one with POST /start_session.`);

export function defaultSystemPrompt(directory: string): string {
  return `You are a helpful assistant. The user's working directory is ${directory}. When tools are offered, use them when they help, and say what you did.`;
}

/** Creating, finding and saving sessions, including the default-session fallback of API.md. */
export function createSessionService(options: SessionServiceOptions) {
  const { store } = options;
  const starts = createRateLimiter({
    perMinute: options.sessionsPerMinute,
    what: 'start sessions (--sessions-per-minute)',
    clock: options.clock,
  });
  let creatingDefault: Promise<SessionRecord> | undefined;

  /**
   * Saves the record as the next revision of the one it was read as: 409 `session_conflict` (and
   * nothing saved) when another writer saved the session in between.
   */
  const save = async (record: SessionRecord) => {
    limitHistory(record, options.maxHistoryChars);
    record.updated_at = new Date(options.clock.now()).toISOString();
    const read = record.revision ?? 0;
    record.revision = read + 1;
    try {
      await store.put(record, { ttlMilliseconds: options.ttlMilliseconds, ifRevision: read });
    } catch (error) {
      record.revision = read;
      throw error;
    }
  };

  const load = (id: string): Promise<SessionRecord | undefined> => store.get(id);

  const create = async (settings: SessionSettings): Promise<SessionRecord> => {
    const defaults = options.defaults;
    const directory =
      settings.current_directory === undefined
        ? defaults.currentDirectory
        : await options.directories.resolve(settings.current_directory);
    const time = new Date(options.clock.now()).toISOString();
    const record: SessionRecord = {
      id: options.newSessionId(),
      provider: settings.llm_provider ?? defaults.provider,
      model: settings.model ?? defaults.model,
      temperature: settings.temperature ?? defaults.temperature,
      context_window_size: settings.context_window_size ?? defaults.contextWindowSize,
      stream: settings.stream ?? defaults.stream,
      current_directory: directory,
      system_prompt: settings.system_prompt ?? defaults.systemPrompt ?? defaultSystemPrompt(directory),
      messages: [],
      usage: { prompt_tokens: 0, completion_tokens: 0 },
      last_prompt_tokens: 0,
      turn: null,
      turns_started: 0,
      recent_calls: [],
      grants: [],
      created_at: time,
      updated_at: time,
    };
    await save(record);
    return record;
  };

  /**
   * The session a request names, or the default session when it names none (created with the
   * server's defaults on first use). `id` must already have passed `sessionIdPattern`.
   */
  const resolve = async (id: string | undefined): Promise<SessionRecord> => {
    if (id !== undefined) {
      const record = await load(id);
      if (!record) throw unknownSession(id);
      return record;
    }
    if (options.requireSessionId) {
      throw new AppError(
        'session_required',
        'Name a session: session_id in the body or query, or an X-Session-Id header.',
      );
    }
    const defaultId = await store.getDefaultSessionId();
    const existing = defaultId === undefined ? undefined : await load(defaultId);
    if (existing) return existing;
    creatingDefault ??= create({}).then(async (record) => {
      await store.setDefaultSessionId(record.id);
      return record;
    });
    try {
      return await creatingDefault;
    } finally {
      creatingDefault = undefined;
    }
  };

  const locks = new Map<string, Promise<unknown>>();

  return {
    save,
    /**
     * Runs `task` while no other task of the same session runs in this process: what makes a
     * decision on a tool call, or the start of a turn, happen exactly once; across processes, the
     * store's compare-and-set save does, and a task that lost the race runs again (up to 3 times).
     */
    async locked<T>(id: string, task: () => Promise<T>): Promise<T> {
      // Another process saved the session between this task's read and its save (a shared store):
      // nothing of the task was saved, so it runs again on what that one saved.
      const attempt = async (left: number): Promise<T> => {
        try {
          return await task();
        } catch (error) {
          if (left > 0 && error instanceof AppError && error.code === 'session_conflict') return attempt(left - 1);
          throw error;
        }
      };
      const current = (locks.get(id) ?? Promise.resolve()).then(() => attempt(3));
      const tail = current.catch(() => undefined);
      locks.set(id, tail);
      try {
        return await current;
      } finally {
        if (locks.get(id) === tail) locks.delete(id);
      }
    },
    /** The session with this id, freshly read; 404 `unknown_session` when it is gone. */
    async load(id: string): Promise<SessionRecord> {
      const record = await load(id);
      if (!record) throw unknownSession(id);
      return record;
    },
    /**
     * A new session from `/start_session`, which becomes the default one. 429 `rate_limited` when
     * `client` (its address, when known) started too many of late; 503 `too_many_sessions` when
     * the store is full.
     */
    async start(settings: SessionSettings, client?: string): Promise<SessionRecord> {
      starts.take(client);
      const record = await create(settings);
      await store.setDefaultSessionId(record.id);
      return record;
    },
    /** The id of the session a request names (not looked up), or of the default session as `resolve` finds it. */
    async resolveId(id: string | undefined): Promise<string> {
      return id ?? (await resolve(undefined)).id;
    },
    resolve,
  };
}
