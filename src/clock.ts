/**
 * Time as the core reads it. Injected, so that tests advance time instead of sleeping; timers made
 * through it never keep a process alive.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `task` every `interval` milliseconds until the returned function is called. */
  every(interval: number, task: () => void): () => void;
  /** Runs `task` once after `delay` milliseconds, unless the returned function is called first. */
  after(delay: number, task: () => void): () => void;
}

const unref = (timer: unknown) => (timer as { unref?: () => void }).unref?.();

/** The runtime's own clock and timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  every(interval, task) {
    const timer = setInterval(task, interval);
    unref(timer);
    return () => clearInterval(timer);
  },
  after(delay, task) {
    const timer = setTimeout(task, delay);
    unref(timer);
    return () => clearTimeout(timer);
  },
};
