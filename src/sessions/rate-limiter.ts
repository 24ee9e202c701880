import type { Clock } from '../clock.js';
import { AppError } from '../errors.js';

export interface RateLimiterOptions {
  /** What each key may do a minute, and at once (0: no limit). */
  perMinute: number;
  /** The action and its setting, for the error message: e.g. "start sessions (--sessions-per-minute)". */
  what: string;
  clock: Clock;
}

/**
 * A token bucket per key (a client address): a key may act `perMinute` times at once, then once
 * every 60/`perMinute` seconds. A full bucket is the same as none, so full ones are forgotten and
 * only keys that acted in the last minute are held.
 */
export function createRateLimiter(options: RateLimiterOptions) {
  const { perMinute, clock } = options;
  const interval = 60_000 / perMinute;
  const buckets = new Map<string, { tokens: number; at: number }>();
  let takes = 0;

  const tokens = (key: string, time: number) => {
    const bucket = buckets.get(key);
    return bucket ? Math.min(perMinute, bucket.tokens + (time - bucket.at) / interval) : perMinute;
  };

  return {
    /** Takes one from `key`'s bucket; 429 `rate_limited` (with `retry_after_seconds`) when it is empty. An unknown key is not limited. */
    take(key: string | undefined): void {
      if (perMinute === 0 || key === undefined) return;
      const time = clock.now();
      const left = tokens(key, time);
      if (left < 1) {
        const seconds = Math.max(1, Math.ceil(((1 - left) * interval) / 1000));
        throw new AppError('rate_limited', `Too many requests to ${options.what}; try again in ${seconds} s.`, {
          retry_after_seconds: seconds,
        });
      }
      buckets.set(key, { tokens: left - 1, at: time });
      takes += 1;
      if (takes % 1000 !== 0) return;
      for (const known of buckets.keys()) if (tokens(known, time) >= perMinute) buckets.delete(known);
    },
  };
}
