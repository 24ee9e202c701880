import { z } from 'zod';
import type { CoordinatorMessage, TurnCoordinator, TurnLease } from '../chat/turn-coordinator.js';
import type { Clock } from '../clock.js';
import { AppError } from '../errors.js';
import { loggedEvents } from './logged-events.js';
import { type RedisConnection, RedisFailure, type RedisSubscriber, storeCommands } from './redis-connection.js';
import { redisKeys, turnMessage } from './redis-keys.js';
import { claimScript, deleteIfScript, renewScript, setAllScript } from './redis-scripts.js';
import type { LoggedEvent } from './session-store.js';

export interface RedisCoordinatorOptions {
  /** The connection commands go on (the store's). */
  connection: RedisConnection;
  /** The server's one listening connection. */
  subscriber: RedisSubscriber;
  /** Prefix of every key and channel, as the store's (default `llm-chat-server:`). */
  prefix?: string;
  /** This server's id (default: a random one). */
  instance?: string;
  clock: Clock;
  /** How long a lease lives without being renewed (default 5 s); it is renewed every second (or third of that). */
  leaseTtl?: number;
}

const messageSchema = z.object({ type: z.enum(['continue', 'stop']), session_id: z.string() });

interface Held {
  key: string;
  value: string;
  controller: AbortController;
  /** When the last renewal that Redis confirmed was sent. */
  renewedAt: number;
}

/**
 * The turn coordinator of servers sharing one Redis (see `TurnCoordinator`). A lease is a key set
 * to `<instance> <token>` with a TTL when no other server holds it; one script renews all of a server's leases every
 * second (taking again one that expired while nobody took it: a busy server's renewal may come
 * late), and a lease is lost when another server holds it, or when no renewal went through for its
 * time to live less one renewal, before another server can take it. Waiting and following marks
 * are keys with a TTL. Messages to a server go on its channel; the events of a turn on the
 * session's turn channel, where the store publishes each batch it logs. Everything a server
 * listens to goes through its one subscriber connection.
 */
export async function createRedisCoordinator(options: RedisCoordinatorOptions): Promise<TurnCoordinator> {
  const { connection, subscriber, clock } = options;
  const keys = redisKeys(options.prefix);
  const instance = options.instance ?? crypto.randomUUID();
  const leaseTtl = options.leaseTtl ?? 5000;
  const renewEvery = Math.max(10, Math.min(1000, Math.floor(leaseTtl / 3)));
  const { send, script } = storeCommands(connection);
  const quietly = (work: Promise<unknown>) => void work.catch(() => undefined);
  const leases = new Map<string, Held>();
  let stopRenewing: (() => void) | undefined;
  let renewing = false;
  let handle: (message: CoordinatorMessage) => void = () => undefined;

  const lose = (held: Held, reason: AppError) => {
    if (!leases.delete(held.value)) return;
    held.controller.abort(reason);
  };

  const renew = () => {
    const now = clock.now();
    for (const held of leases.values()) {
      if (now - held.renewedAt < leaseTtl - renewEvery) continue;
      lose(
        held,
        new AppError(
          'store_unavailable',
          'The session store did not answer in time to keep this turn going; it ends here. Try again later.',
        ),
      );
    }
    if (leases.size === 0) {
      stopRenewing?.();
      stopRenewing = undefined;
    }
    if (renewing || leases.size === 0) return;
    renewing = true;
    const batch = [...leases.values()];
    script(
      'renew the turn leases',
      renewScript,
      batch.map((held) => held.key),
      [leaseTtl, ...batch.map((held) => held.value)],
    )
      .then((reply) => {
        batch.forEach((held, index) => {
          if ((reply as number[])[index] === 1) held.renewedAt = now;
          else lose(held, new AppError('interrupted', 'Another server took this turn over; it ends here.'));
        });
      })
      .catch(() => undefined)
      .finally(() => {
        renewing = false;
      });
  };

  const onInstanceMessage = (text: string) => {
    let message: CoordinatorMessage;
    try {
      message = messageSchema.parse(JSON.parse(text));
    } catch {
      return;
    }
    handle(message);
  };
  const listenTo = async (channel: string, listener: (message: string) => void) => {
    try {
      await subscriber.subscribe(channel, listener);
    } catch (error) {
      if (!(error instanceof RedisFailure)) throw error;
      throw new AppError(
        'store_unavailable',
        `The session store could not be followed: ${error.reason}. Try again later.`,
      );
    }
  };
  await listenTo(keys.instanceChannel(instance), onInstanceMessage);

  const get = async (action: string, key: string) => {
    const reply = await send(action, ['GET', key]);
    return typeof reply === 'string' ? reply : undefined;
  };

  return {
    instance,
    shared: true,
    async claim(sessionId): Promise<TurnLease | undefined> {
      const key = keys.lease(sessionId);
      // A lease of this server's on the session that it no longer keeps is one it let go while
      // Redis was away: taken again rather than waited out.
      if ([...leases.values()].some((held) => held.key === key)) return undefined;
      const value = `${instance} ${crypto.randomUUID()}`;
      const taken = await script('take the turn lease', claimScript, [key], [value, leaseTtl, `${instance} `]);
      if (taken !== 1) return undefined;
      const held: Held = { key, value, controller: new AbortController(), renewedAt: clock.now() };
      leases.set(value, held);
      stopRenewing ??= clock.every(renewEvery, renew);
      return {
        lost: held.controller.signal,
        release() {
          if (!leases.delete(value)) return;
          quietly(script('release the turn lease', deleteIfScript, [key], [value]));
        },
      };
    },
    async holder(sessionId) {
      return (await get('read the turn lease', keys.lease(sessionId)))?.split(' ')[0];
    },
    markWaiting(sessionId, waiting, ttl) {
      const key = keys.waiting(sessionId);
      quietly(
        waiting
          ? send('mark a waiting stream', ['SET', key, instance, 'PX', String(ttl)])
          : script('unmark a waiting stream', deleteIfScript, [key], [instance]),
      );
    },
    waiter: (sessionId) => get('read the waiting stream', keys.waiting(sessionId)),
    markFollowed(sessionIds, ttl) {
      quietly(script('mark followed turns', setAllScript, sessionIds.map(keys.followed), [instance, ttl]));
    },
    async followedElsewhere(sessionId) {
      return (await send('read the followed turns', ['EXISTS', keys.followed(sessionId)])) === 1;
    },
    async send(to, message) {
      const reply = await send('reach another server', ['PUBLISH', keys.instanceChannel(to), JSON.stringify(message)]);
      return typeof reply === 'number' && reply > 0;
    },
    onMessage(handler) {
      handle = handler;
    },
    async listen(sessionId, listener) {
      const channel = keys.turnChannel(sessionId);
      const onMessage = (message: string) => {
        const space = message.indexOf(' ');
        let events: LoggedEvent[];
        try {
          events = loggedEvents(message.slice(space + 1), -1);
        } catch {
          return;
        }
        listener(Number(message.slice(0, space)), events);
      };
      await listenTo(channel, onMessage);
      return () => quietly(subscriber.unsubscribe(channel, onMessage));
    },
    announce(sessionId, sequence, events) {
      const frames = events.map((entry) => entry.frame).join('');
      quietly(send('announce turn events', ['PUBLISH', keys.turnChannel(sessionId), turnMessage(sequence, frames)]));
    },
  };
}
