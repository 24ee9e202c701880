import type { Metrics } from './metrics.js';

type Recording = Exclude<keyof Metrics, 'scrape'>;
const recordings: Recording[] = [
  'request',
  'streams',
  'modelCall',
  'turnStarted',
  'turnRun',
  'pendingApprovals',
  'decision',
  'toolCall',
  'serverStates',
];

/** Calls kept while the driver loads; past that many, the oldest are dropped. */
const maxQueued = 10_000;

/**
 * A metrics driver loaded on first use, so that a server that is never used (or never scraped)
 * does not pay for loading it at start-up. Calls made while it loads are queued and replayed in
 * order; a scrape waits for it. A driver that fails to load counts nothing; its scrape rejects.
 */
export function deferredMetrics(load: () => Promise<Metrics>): Metrics {
  let driver: Metrics | undefined;
  let loading: Promise<Metrics> | undefined;
  const queue: Array<(metrics: Metrics) => void> = [];
  const start = () => {
    if (!loading) {
      loading = load().then((loaded) => {
        driver = loaded;
        for (const call of queue.splice(0)) call(loaded);
        return loaded;
      });
      loading.catch(() => queue.splice(0));
    }
    return loading;
  };
  const deferred = Object.fromEntries(
    recordings.map((name) => [
      name,
      (...args: unknown[]) => {
        const call = (metrics: Metrics) => (metrics[name] as (...values: unknown[]) => void)(...args);
        if (driver) return call(driver);
        if (queue.length >= maxQueued) queue.shift();
        queue.push(call);
        void start();
      },
    ]),
  ) as unknown as Metrics;
  deferred.scrape = async () => {
    const metrics = await start();
    if (!metrics.scrape) throw new Error('The metrics driver serves no scrape.');
    return metrics.scrape();
  };
  return deferred;
}
