// What the Prometheus metrics cost the relay: two servers started alike, one with metrics on (the
// default) and one with --no-metrics, driven in alternation in the same run. Two processes started
// alike differ by a few per cent on their own (an A/A run: CPU 0.96–1.00×, first token 0.92–0.99×),
// so the measure is repeated on several fresh pairs and the median of the pairs' ratios reported.
// Which of the two starts first swaps from pair to pair.
import type { ChildProcess } from 'node:child_process';
import {
  cpuPerToken,
  median,
  relayDirectory,
  relayServerArgs,
  sessions,
  startServer,
  stream,
  timeToFirstToken,
  tokenInServer,
} from './measure.js';

interface Server {
  name: string;
  child: ChildProcess;
  url: string;
}

const turn = (url: string, session_id: string) =>
  stream({ url: `${url}/user_request`, body: { input: 'go', session_id, stream: true }, marker: tokenInServer });

/** CPU per token and time to first token of each server, alternating which goes first. */
async function measurePair(
  servers: Server[],
  sizes: { clients: number; rounds: number; tokens: number; repeats: number; samples: number },
) {
  const { clients, rounds, tokens, repeats, samples } = sizes;
  for (const server of servers) {
    const warm = await sessions(server.url, clients, `fast:${tokens}`);
    await Promise.all(warm.map((session_id) => turn(server.url, session_id).done));
  }
  // Each as it should be: the one serves its metrics (loaded and counting), the other none.
  const scraped = await Promise.all(servers.map((server) => fetch(`${server.url}/metrics`)));
  if (scraped[0].status !== 200 || scraped[1].status !== 404) {
    throw new Error(`/metrics answered ${scraped.map((response) => response.status).join(' and ')}, not 200 and 404`);
  }
  await Promise.all(scraped.map((response) => response.text()));

  const cpu = servers.map(() => [] as number[]);
  let tokensPerRun = 0;
  for (let repeat = 0; repeat < repeats; repeat += 1) {
    // Alternating which goes first, so that a machine growing busier or quieter moves both alike.
    for (const index of repeat % 2 === 0 ? [0, 1] : [1, 0]) {
      const server = servers[index];
      const ids = await sessions(server.url, clients, `fast:${tokens}`);
      const run = await cpuPerToken(
        server.child.pid as number,
        // Counted as the upstream sent them: one upstream read's tokens leave as one event.
        async (client) => {
          if ((await turn(server.url, ids[client]).done) === 0) throw new Error(`${server.name}: no token`);
          return tokens;
        },
        clients,
        rounds,
      );
      cpu[index].push(run.microseconds);
      tokensPerRun = run.tokens;
    }
  }

  const firsts = servers.map(() => [] as number[]);
  for (let sample = 0; sample < samples; sample += 1) {
    for (const index of sample % 2 === 0 ? [0, 1] : [1, 0]) {
      const server = servers[index];
      const time = await timeToFirstToken(async () => {
        const [session_id] = await sessions(server.url, 1, 'fast:1');
        return {
          url: `${server.url}/user_request`,
          body: { input: 'go', session_id, stream: true },
          marker: tokenInServer,
        };
      }, 1);
      firsts[index].push(time);
    }
  }
  return {
    tokensPerRun,
    cpu: cpu.map(median),
    // Each repeat's two runs as a ratio: what the machine did meanwhile moves both.
    cpuRatio: median(cpu[0].map((value, index) => value / cpu[1][index])),
    first: firsts.map(median),
  };
}

export async function metricsCost(upstreamUrl: string, options: { quick: boolean; store: string }) {
  const sizes = {
    clients: 100,
    rounds: options.quick ? 1 : 3,
    tokens: options.quick ? 100 : 300,
    repeats: options.quick ? 3 : 5,
    samples: options.quick ? 50 : 200,
  };
  const pairs = options.quick ? 2 : 5;
  const directory = await relayDirectory();
  const args = (data: string) => relayServerArgs(upstreamUrl, directory, options.store, data);
  const results: Array<Awaited<ReturnType<typeof measurePair>>> = [];
  for (let pair = 0; pair < pairs; pair += 1) {
    console.error(`bench: metrics on and off, pair ${pair + 1} of ${pairs}`);
    // Which starts first swaps from pair to pair: in A/A runs the first started of two alike was
    // some 3-5 % quicker to its first token.
    const start = {
      on: () => startServer(args(`data-metrics-${pair}`)),
      off: () => startServer([...args(`data-no-metrics-${pair}`), '--no-metrics']),
    };
    const [first, second] = pair % 2 === 0 ? [start.on, start.off] : [start.off, start.on];
    const [started, later] = [await first(), await second()];
    const [on, off] = pair % 2 === 0 ? [started, later] : [later, started];
    const servers: Server[] = [
      { name: 'metrics on', ...on },
      { name: '--no-metrics', ...off },
    ];
    results.push(await measurePair(servers, sizes));
    for (const server of servers) server.child.kill();
  }

  const fixed = (values: number[]) => values.map((value) => value.toFixed(2)).join(', ');
  const cpuRatios = results.map((result) => result.cpuRatio);
  const firstRatios = results.map((result) => result.first[0] / result.first[1]);
  const medianOf = (pick: (result: (typeof results)[number]) => number) => median(results.map(pick));
  const firstOn = medianOf((result) => result.first[0]);
  const firstOff = medianOf((result) => result.first[1]);
  return [
    ['measure', '--no-metrics', 'metrics on', `ratio, median of ${pairs} fresh pairs (each pair's)`, 'target'],
    [
      `server CPU per token (${sizes.clients} concurrent clients, ${results[0].tokensPerRun} tokens a run, median of ${sizes.repeats} runs a pair)`,
      `${medianOf((result) => result.cpu[1]).toFixed(1)} µs`,
      `${medianOf((result) => result.cpu[0]).toFixed(1)} µs`,
      `${median(cpuRatios).toFixed(3)}× (${fixed(cpuRatios)})`,
      '< 1.05×',
    ],
    [
      `time to first token through the server, p50 (${sizes.samples} each a pair, alternating)`,
      `${firstOff.toFixed(2)} ms`,
      `${firstOn.toFixed(2)} ms`,
      `${median(firstRatios).toFixed(3)}× (${fixed(firstRatios)}; ${firstOn - firstOff >= 0 ? '+' : ''}${(firstOn - firstOff).toFixed(2)} ms)`,
      '< 1.05×',
    ],
  ];
}
