import type { LoggedEvent } from '../store/session-store.js';

/** What one server asks another to do with a session's turn. */
export type CoordinatorMessage =
  /** A stream of yours waits on the session's step, which is now decided: run its continuation. */
  | { type: 'continue'; session_id: string }
  /** You run the session's turn: stop it, as `POST /stop` does. */
  | { type: 'stop'; session_id: string };

/** The hold of one server on a session's turn while it runs (see `TurnCoordinator.claim`). */
export interface TurnLease {
  /**
   * Aborted when the hold is lost: another server took the turn over, or the hold could not be
   * renewed before it expired (the coordinator's store did not answer). The reason is an
   * `AppError` (`interrupted`, `store_unavailable`); the turn must end with it.
   */
  readonly lost: AbortSignal;
  /** Lets the turn go, once it ended and its last state is saved; later calls do nothing. */
  release(): void;
}

/**
 * How the servers that share one session store agree on who runs a session's turn, and reach
 * each other: one server runs a turn at a time (it holds the session's lease while the turn runs,
 * renewed as it goes and expiring a few seconds after its holder died), a decision or a stop that
 * arrives at another server reaches the one it concerns, and a turn's events, appended to the
 * store's event log as they come, reach followers on every server.
 *
 * One server on its own store uses `createLocalCoordinator`: every lease is its own, and there is
 * nobody else to reach. Servers on Redis use the Redis coordinator (`src/store/redis-coordinator.ts`).
 * Calls that reach the shared store fail with AppError `store_unavailable` when it cannot be
 * reached; the `mark…` calls and `announce` never fail (they are retried by whoever needs them).
 */
export interface TurnCoordinator {
  /** This server's id: marked on the turns it runs (`turn.runner`), and how the others reach it. */
  readonly instance: string;
  /**
   * Whether other servers run turns of the same sessions. Then a turn's events are appended to the
   * store's event log as they come (once per upstream read, one append in flight), since followers
   * elsewhere read them there; alone, at step boundaries and once a second suffice.
   */
  readonly shared: boolean;
  /** Takes the session's lease for a turn; undefined while another server holds it. */
  claim(sessionId: string): Promise<TurnLease | undefined>;
  /** The server whose lease on the session is live (running its turn), if any. */
  holder(sessionId: string): Promise<string | undefined>;
  /**
   * Says that a stream on this server waits on the approvals of the session's current step, for
   * at most `ttl` milliseconds (`waiting`), or no longer does (its wait ended, or the turn went on).
   */
  markWaiting(sessionId: string, waiting: boolean, ttl: number): void;
  /** The last server that said a stream of it waits on the session's step, if its word is live. */
  waiter(sessionId: string): Promise<string | undefined>;
  /** Says that streams on this server follow the turns of these sessions, run elsewhere, for `ttl` ms. */
  markFollowed(sessionIds: readonly string[], ttl: number): void;
  /** Whether another server said, within its `ttl`, that it follows the session's turn. */
  followedElsewhere(sessionId: string): Promise<boolean>;
  /** Sends `message` to server `instance`: whether a server of that id is listening. */
  send(instance: string, message: CoordinatorMessage): Promise<boolean>;
  /** What this server does with the messages sent to it (one handler; a later one replaces it). */
  onMessage(handler: (message: CoordinatorMessage) => void): void;
  /**
   * Follows the events of the session's turns that reach its log from any server (this one's own
   * included), and those announced. Resolves once following: an event logged after that is not
   * missed. Returns the function that stops it.
   */
  listen(sessionId: string, listener: (sequence: number, events: LoggedEvent[]) => void): Promise<() => void>;
  /**
   * Tells the session's listeners of events that are not logged: the `done` of a step that waits
   * on approvals (a continuation supersedes it, so a replay derives it from the session instead).
   */
  announce(sessionId: string, sequence: number, events: readonly LoggedEvent[]): void;
}

/**
 * The coordinator of a server that is alone on its store: its in-process registry of running
 * turns is all the exclusion there is, so every lease is granted and never lost, no other server
 * holds or follows anything, and there is nobody to send to or listen to.
 */
export function createLocalCoordinator(instance: string = crypto.randomUUID()): TurnCoordinator {
  return {
    instance,
    shared: false,
    // Made per lease: Workers allow no AbortController in the global scope.
    claim: async (): Promise<TurnLease> => ({ lost: new AbortController().signal, release: () => undefined }),
    holder: async () => undefined,
    markWaiting: () => undefined,
    waiter: async () => undefined,
    markFollowed: () => undefined,
    followedElsewhere: async () => false,
    send: async () => false,
    onMessage: () => undefined,
    listen: async () => () => undefined,
    announce: () => undefined,
  };
}
