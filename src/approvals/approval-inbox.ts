import type { Clock } from '../clock.js';
import { AppError } from '../errors.js';
import type { ApprovalIndex } from '../store/session-store.js';
import type { ApprovalChanges } from './approval-tracking.js';
import { type InboxEvent, type InboxItem, inboxDecision, inboxItem } from './inbox-events.js';

/** Someone following the inbox: an SSE response. */
export interface InboxSubscriber {
  /** Writes an SSE frame (made once, shared by every subscriber). */
  deliver(frame: string): void;
  /** Writes a keep-alive comment. */
  ping(): void;
}

export interface ApprovalInboxOptions {
  /** Where pending calls are found across sessions (the store's index). */
  index: ApprovalIndex;
  clock: Clock;
  /** The longest silence on a stream before a keep-alive. */
  keepAlive: number;
  /**
   * Marks the session's calls whose approval expired and saves it (the audit entry and the
   * `approval_decided` event follow from that save). Called when a call this process saw start to
   * wait reaches its expiry; rejections are ignored.
   */
  expire: (sessionId: string) => Promise<unknown>;
  /** Events kept for `Last-Event-ID` resume (default 1,000). */
  maxReplay?: number;
  /** Streams that may follow the inbox at once (default 100). */
  maxFollowers?: number;
}

/** The most calls `GET /approvals` and a snapshot list. */
export const maxListedApprovals = 1000;

const frameOf = (event: InboxEvent, id: string) =>
  `event: ${event.event}\nid: ${id}\ndata: ${JSON.stringify(event.data)}\n\n`;

/**
 * The approvers' view of every session's pending calls: a list read from the store's index, and a
 * live feed of calls that start to wait and of decisions, fed by this process's saves
 * (`trackApprovals`). Event ids are `<run>.<n>`: a stream resumes after an id of this run that is
 * still among the last `maxReplay` events; any other id (an older run's, one too old) gets a fresh
 * `snapshot` first. One shared ticker does the keep-alives while anyone follows, and one timer
 * waits for the earliest expiry of the calls this process saw start to wait: nothing per stream.
 */
export function createApprovalInbox(options: ApprovalInboxOptions) {
  const { clock, keepAlive } = options;
  const maxReplay = options.maxReplay ?? 1000;
  const maxFollowers = options.maxFollowers ?? 100;
  const run = crypto.randomUUID().slice(0, 8);
  const tick = Math.max(20, Math.min(1000, keepAlive / 3));
  let sequence = 0;
  const replay: Array<{ n: number; frame: string }> = [];
  const followers = new Map<InboxSubscriber, { lastWrite: number; held?: string[] }>();
  const waiting = new Map<string, { sessionId: string; expiresAt: number }>();
  let stopTicker: (() => void) | undefined;
  let cancelExpiry: (() => void) | undefined;
  let armedFor: number | undefined;

  const emit = (event: InboxEvent) => {
    sequence += 1;
    const frame = frameOf(event, `${run}.${sequence}`);
    replay.push({ n: sequence, frame });
    if (replay.length > maxReplay) replay.shift();
    const now = clock.now();
    for (const [subscriber, entry] of followers) {
      if (entry.held) entry.held.push(frame);
      else {
        entry.lastWrite = now;
        subscriber.deliver(frame);
      }
    }
  };

  const onTick = () => {
    const now = clock.now();
    for (const [subscriber, entry] of followers) {
      if (entry.held || now - entry.lastWrite < keepAlive - tick) continue;
      entry.lastWrite = now;
      subscriber.ping();
    }
  };

  const sweep = () => {
    cancelExpiry = undefined;
    armedFor = undefined;
    const now = clock.now();
    const sessions = new Set<string>();
    for (const [key, entry] of waiting) {
      if (entry.expiresAt > now) continue;
      waiting.delete(key);
      sessions.add(entry.sessionId);
    }
    for (const sessionId of sessions) options.expire(sessionId).catch(() => undefined);
    arm();
  };

  /** Keeps the one expiry timer on the earliest known expiry. */
  const arm = () => {
    let earliest: number | undefined;
    for (const { expiresAt } of waiting.values())
      if (earliest === undefined || expiresAt < earliest) earliest = expiresAt;
    if (earliest === armedFor) return;
    cancelExpiry?.();
    cancelExpiry = undefined;
    armedFor = earliest;
    if (earliest !== undefined) cancelExpiry = clock.after(Math.max(0, earliest - clock.now()), sweep);
  };

  /** The `n` of an id of this run that a replay can continue from, else undefined. */
  const resumable = (lastEventId: string | undefined): number | undefined => {
    const match = lastEventId ? /^([0-9a-f]{8})\.(\d+)$/.exec(lastEventId.trim()) : null;
    if (!match || match[1] !== run) return undefined;
    const after = Number(match[2]);
    const oldest = replay[0]?.n ?? sequence + 1;
    return after <= sequence && after >= oldest - 1 ? after : undefined;
  };

  /** The calls waiting now, oldest first, at most `limit`. */
  const list = async (limit = maxListedApprovals): Promise<InboxItem[]> => {
    const now = clock.now();
    const pending = (await options.index.pending()).filter((call) => call.expires_at > now);
    const since = (call: (typeof pending)[number]) => call.created_at ?? call.expires_at;
    pending.sort((a, b) => since(a) - since(b) || a.request_id.localeCompare(b.request_id));
    return pending.slice(0, limit).map(inboxItem);
  };

  return {
    list,

    /** Tells followers what a save changed, and keeps track of the expiry of calls that wait. */
    publish(changes: ApprovalChanges) {
      for (const call of changes.requested) {
        waiting.set(`${call.session_id}\n${call.request_id}`, {
          sessionId: call.session_id,
          expiresAt: call.expires_at,
        });
        emit({ event: 'approval_requested', data: inboxItem(call) });
      }
      for (const call of changes.decided) {
        waiting.delete(`${call.session_id}\n${call.request_id}`);
        emit({ event: 'approval_decided', data: inboxDecision(call) });
      }
      arm();
    },

    /**
     * Follows the inbox: after `lastEventId` when it can be resumed, else from a `snapshot` of
     * every call waiting now. Events published while the snapshot is read follow it. Returns how
     * to leave. 409 `too_many_followers` past `maxFollowers`.
     */
    async follow(subscriber: InboxSubscriber, lastEventId?: string): Promise<() => void> {
      if (followers.size >= maxFollowers) {
        throw new AppError(
          'too_many_followers',
          `The approval inbox already has ${maxFollowers} followers; close one first.`,
        );
      }
      const leave = () => {
        followers.delete(subscriber);
        if (followers.size > 0) return;
        stopTicker?.();
        stopTicker = undefined;
      };
      stopTicker ??= clock.every(tick, onTick);
      const after = resumable(lastEventId);
      if (after !== undefined) {
        for (const entry of replay) if (entry.n > after) subscriber.deliver(entry.frame);
        followers.set(subscriber, { lastWrite: clock.now() });
        return leave;
      }
      const mark = sequence;
      const entry: { lastWrite: number; held?: string[] } = { lastWrite: clock.now(), held: [] };
      followers.set(subscriber, entry);
      try {
        const approvals = await list();
        subscriber.deliver(frameOf({ event: 'snapshot', data: { approvals } }, `${run}.${mark}`));
        for (const frame of entry.held ?? []) subscriber.deliver(frame);
      } catch (error) {
        leave();
        throw error;
      } finally {
        entry.held = undefined;
        entry.lastWrite = clock.now();
      }
      return leave;
    },

    /** Stops the ticker and the expiry timer; for tests and shutdown. */
    close() {
      stopTicker?.();
      stopTicker = undefined;
      cancelExpiry?.();
      cancelExpiry = undefined;
      armedFor = undefined;
    },
  };
}

export type ApprovalInbox = ReturnType<typeof createApprovalInbox>;
