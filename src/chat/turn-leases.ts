import type { Clock } from '../clock.js';
import type { TurnCoordinator, TurnLease } from './turn-coordinator.js';

/** How long a transition waits for the server whose run just ended to let the session go. */
export const handOverTimeout = 2000;

/**
 * The leases this process holds on sessions, taken through the coordinator. A lease is released
 * once; `holds` tells whether this process has a session's lease (it runs its turn, or is about to).
 */
export function createTurnLeases(coordinator: TurnCoordinator, clock: Clock) {
  const leased = new Set<string>();

  /** The session's lease, or undefined while another server holds it. */
  const claim = async (id: string): Promise<TurnLease | undefined> => {
    const lease = await coordinator.claim(id);
    if (!lease) return undefined;
    leased.add(id);
    let released = false;
    return {
      lost: lease.lost,
      release() {
        if (released) return;
        released = true;
        leased.delete(id);
        lease.release();
      },
    };
  };

  /** The lease, waiting up to `handOverTimeout` for a server that is letting the session go. */
  const claimSoon = async (id: string): Promise<TurnLease | undefined> => {
    const deadline = clock.now() + handOverTimeout;
    for (;;) {
      const lease = await claim(id);
      if (lease || clock.now() >= deadline) return lease;
      await new Promise<void>((resolve) => clock.after(50, resolve));
    }
  };

  return {
    claim,
    claimSoon,
    holds: (id: string) => leased.has(id),
    /**
     * Runs `task` with the session's lease (waiting for it as `claimSoon` does when `soon`),
     * which is released when the task throws; `absent()` when another server holds it.
     */
    async with<T>(id: string, task: (lease: TurnLease) => Promise<T>, absent: () => T, soon = false): Promise<T> {
      const lease = soon ? await claimSoon(id) : await claim(id);
      if (!lease) return absent();
      try {
        return await task(lease);
      } catch (error) {
        lease.release();
        throw error;
      }
    },
  };
}
