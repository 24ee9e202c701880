import type { Clock } from '../clock.js';
import type { ProbeOutcome, UpstreamProbe } from './upstream-probe.js';

/** What `/health` says of the LLM: `unknown` until a probe or a model call has told. */
export type UpstreamState = 'reachable' | 'unreachable' | 'unknown';

/**
 * The last known state of the default provider's LLM. Reading it costs nothing: when the state is
 * older than `interval` (by the injected clock), a read starts one probe in the background and
 * answers with what it knew. Model calls report what they saw, which counts as a fresh check.
 */
export interface UpstreamStatus {
  current(): UpstreamState;
  /** Probes now (one probe at a time) and resolves with what it found. */
  refresh(): Promise<ProbeOutcome>;
  /** A model call of `provider` reached the LLM (`true`) or could not connect (`false`). */
  report(provider: string, reachable: boolean): void;
}

export function createUpstreamStatus(options: {
  probe: UpstreamProbe;
  clock: Clock;
  interval: number;
}): UpstreamStatus {
  let state: UpstreamState = 'unknown';
  let checkedAt: number | undefined;
  let running: Promise<ProbeOutcome> | undefined;
  let runningSince = 0;
  const settle = (reachable: boolean) => {
    state = reachable ? 'reachable' : 'unreachable';
    checkedAt = options.clock.now();
  };
  const refresh = () => {
    // A probe older than the interval is given up on: a Worker may cancel I/O left after a response.
    if (running && options.clock.now() - runningSince < options.interval) return running;
    runningSince = options.clock.now();
    const probe: Promise<ProbeOutcome> = options.probe.check().then((outcome) => {
      settle(outcome !== 'unreachable');
      if (running === probe) running = undefined;
      return outcome;
    });
    running = probe;
    return probe;
  };
  return {
    current() {
      if (checkedAt === undefined || options.clock.now() - checkedAt >= options.interval) void refresh();
      return state;
    },
    refresh,
    report(provider, reachable) {
      if (provider === options.probe.provider) settle(reachable);
    },
  };
}

/** For apps built without a probe (tests, library users): always `unknown`. */
export const unknownUpstream: UpstreamStatus = {
  current: () => 'unknown',
  refresh: async () => 'unreachable',
  report() {},
};
