import type { SessionRecord } from '../sessions/session-record.js';
import type { LoggedEvent } from '../store/session-store.js';
import { eventFrame } from './event-frame.js';
import type { LoggedTurns } from './logged-turns.js';
import type { AttachResult, Subscriber, TurnChannels } from './turn-channels.js';
import type { TurnRun } from './turn-service.js';

/** A follower's place on a feed: what it got, and how it leaves. */
export interface Following {
  /** 'following': live events come; 'replayed': what was missed was sent, then closed; 'nothing': nothing to send (not closed). */
  result: AttachResult;
  /** Stops following; the turn goes on (for the resume grace when nobody follows). */
  leave(): void;
}

/**
 * A session's turn as someone can follow it: a run from its first event, or a replay of what a
 * follower missed followed by the live rest. A feed of a new run must be followed exactly once,
 * at once: the run starts when it is.
 */
export interface TurnFeed {
  readonly sessionId: string;
  /** The session's default for whether its responses stream. */
  readonly streams: boolean;
  /** Connects `subscriber`: it gets the feed's events in order, then `close()` once. */
  follow(subscriber: Subscriber): Following;
}

/** The feeds of turns in this process's channels, and of turns replayed from the durable log. */
export function createTurnFeeds(channels: TurnChannels, logged: LoggedTurns) {
  const leaving = (sessionId: string, subscriber: Subscriber) => () => channels.detach(sessionId, subscriber);
  return {
    /** A run's feed; a continuation whose earlier events this process does not hold starts past them. */
    async runFeed(run: TurnRun): Promise<TurnFeed> {
      const firstIndex = await logged.firstIndex(run);
      return {
        sessionId: run.sessionId,
        streams: run.stream,
        follow(subscriber) {
          channels.run(run, subscriber, firstIndex);
          return { result: 'following', leave: leaving(run.sessionId, subscriber) };
        },
      };
    },

    /** The session's turn as this process holds it, after `after` (see `TurnChannels.attach`); nothing without `after` when `replayOnly`. */
    attachFeed(
      record: SessionRecord,
      after: { sequence: number; index: number } | undefined,
      replayOnly: boolean,
    ): TurnFeed {
      return {
        sessionId: record.id,
        streams: record.stream,
        follow(subscriber) {
          const result = replayOnly && !after ? 'nothing' : channels.attach(record.id, subscriber, after);
          return { result, leave: leaving(record.id, subscriber) };
        },
      };
    },

    /** Events of turn `sequence` a follower missed, from the durable log: sent, then closed. */
    replayFeed(record: SessionRecord, sequence: number, missed: LoggedEvent[]): TurnFeed {
      return {
        sessionId: record.id,
        streams: record.stream,
        follow(subscriber) {
          for (const { index, event } of missed) subscriber.deliver(event, eventFrame(event, `${sequence}.${index}`));
          if (missed.length > 0) subscriber.close();
          return { result: missed.length > 0 ? 'replayed' : 'nothing', leave: () => undefined };
        },
      };
    },
  };
}
