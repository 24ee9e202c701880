import type { Clock } from '../../src/clock.js';

/**
 * A clock that moves only when a test says so: `advance(ms)` runs, in time order, every timer that
 * falls due on the way, so a test of deadlines and keep-alives waits for nothing.
 */
export function createManualClock(start = Date.UTC(2026, 0, 1)) {
  let time = start;
  let nextId = 0;
  const timers = new Map<number, { due: number; interval?: number; task: () => void }>();
  const schedule = (delay: number, task: () => void, interval?: number) => {
    const id = nextId++;
    timers.set(id, { due: time + Math.max(0, delay), interval, task });
    return () => void timers.delete(id);
  };
  const clock: Clock & { advance(milliseconds: number): Promise<void>; readonly timers: number } = {
    now: () => time,
    every: (interval, task) => schedule(interval, task, Math.max(1, interval)),
    after: (delay, task) => schedule(delay, task),
    async advance(milliseconds) {
      const target = time + milliseconds;
      for (;;) {
        const due = [...timers.entries()]
          .filter(([, timer]) => timer.due <= target)
          .sort(([a, first], [b, second]) => first.due - second.due || a - b)[0];
        if (!due) break;
        const [id, timer] = due;
        time = timer.due;
        if (timer.interval === undefined) timers.delete(id);
        else timer.due += timer.interval;
        timer.task();
        // Let the work a timer set off (promise callbacks) run before the next one is due.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      time = target;
    },
    get timers() {
      return timers.size;
    },
  };
  return clock;
}
