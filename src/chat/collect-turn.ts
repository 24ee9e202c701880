import { AppError } from '../errors.js';
import type { TurnFeed } from './conversations.js';
import type { Subscriber } from './turn-channels.js';
import type { TurnResponse } from './turn-events.js';

/**
 * Follows a feed for a JSON answer: resolves with the `done` data (a step waiting on approvals
 * ends there), rejects with the `error`. A client that leaves (`signal`) is not a stop: the turn
 * runs on for the resume grace, and the promise rejects at once so the request need not wait.
 */
export function collectTurn(feed: TurnFeed, signal?: AbortSignal): Promise<TurnResponse> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      outcome();
    };
    const subscriber: Subscriber = {
      waitsForApproval: false,
      deliver(event) {
        if (event.event === 'done') settle(() => resolve(event.data));
        else if (event.event === 'error') {
          const { code, message, details } = event.data.error;
          settle(() => reject(new AppError(code, message, details)));
        }
      },
      close: () => settle(() => reject(new AppError('internal_error', 'The turn ended without a result.'))),
    };
    const following = feed.follow(subscriber);
    const leave = () => {
      following.leave();
      settle(() =>
        reject(new AppError('client_closed_request', 'The client went away; the turn goes on for the resume grace.')),
      );
    };
    // A client that left while the turn was being started: no abort event will come.
    if (signal?.aborted) leave();
    else signal?.addEventListener('abort', leave, { once: true });
  });
}
