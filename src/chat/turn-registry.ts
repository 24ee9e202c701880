import type { Clock } from '../clock.js';
import { AppError } from '../errors.js';

/**
 * The turns running in this process, one per session at most. Holds each turn's AbortController
 * so that a later stop can reach it.
 */
export function createTurnRegistry(clock: Clock) {
  const running = new Map<string, AbortController>();
  const waiters = new Map<string, Array<() => void>>();
  const assertIdle = (sessionId: string) => {
    if (running.has(sessionId)) {
      throw new AppError('turn_in_progress', 'A turn of this session is running; wait for it or POST /stop.');
    }
  };
  return {
    /** 409 `turn_in_progress` when a turn of the session runs. */
    assertIdle,
    /** Claims the session for a new turn; 409 `turn_in_progress` if one runs. */
    begin(sessionId: string): AbortController {
      assertIdle(sessionId);
      const controller = new AbortController();
      running.set(sessionId, controller);
      return controller;
    },
    end(sessionId: string, controller: AbortController) {
      if (running.get(sessionId) !== controller) return;
      running.delete(sessionId);
      for (const wake of waiters.get(sessionId) ?? []) wake();
      waiters.delete(sessionId);
    },
    /** Resolves once no turn of the session runs, or after `timeout` milliseconds. */
    idle(sessionId: string, timeout: number): Promise<void> {
      if (!running.has(sessionId)) return Promise.resolve();
      return new Promise((resolve) => {
        const cancel = clock.after(timeout, resolve);
        const wake = () => {
          cancel();
          resolve();
        };
        waiters.set(sessionId, [...(waiters.get(sessionId) ?? []), wake]);
      });
    },
    /** The running turn's controller: aborting it stops the turn. */
    controller(sessionId: string): AbortController | undefined {
      return running.get(sessionId);
    },
    isRunning(sessionId: string): boolean {
      return running.has(sessionId);
    },
  };
}

export type TurnRegistry = ReturnType<typeof createTurnRegistry>;
