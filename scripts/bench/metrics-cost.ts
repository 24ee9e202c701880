// What the Prometheus metrics cost the relay: two servers started alike, one with metrics on (the
// default) and one with --no-metrics, driven in alternation in the same run.
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

export async function metricsCost(upstreamUrl: string, options: { quick: boolean; store: string }) {
  const clients = 100;
  const rounds = options.quick ? 1 : 3;
  const tokens = options.quick ? 100 : 300;
  const repeats = options.quick ? 3 : 5;
  const samples = options.quick ? 50 : 200;
  const directory = await relayDirectory();
  const args = (data: string) => relayServerArgs(upstreamUrl, directory, options.store, data);
  const servers = [
    { name: 'metrics on', ...(await startServer(args('data-metrics'))) },
    { name: '--no-metrics', ...(await startServer([...args('data-no-metrics'), '--no-metrics'])) },
  ];
  const [on, off] = servers;
  const turn = (url: string, session_id: string) =>
    stream({ url: `${url}/user_request`, body: { input: 'go', session_id, stream: true }, marker: tokenInServer });

  console.error('bench: metrics on and off, warming up');
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

  console.error('bench: metrics on and off, CPU per token');
  const cpu = new Map<string, number[]>(servers.map((server) => [server.name, []]));
  let tokensPerRun = 0;
  for (let repeat = 0; repeat < repeats; repeat += 1) {
    // Alternating which goes first, so that a machine growing busier or quieter moves both alike.
    for (const server of repeat % 2 === 0 ? servers : [off, on]) {
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
      cpu.get(server.name)?.push(run.microseconds);
      tokensPerRun = run.tokens;
    }
  }

  console.error('bench: metrics on and off, time to first token');
  const firsts = new Map<string, number[]>(servers.map((server) => [server.name, []]));
  for (let sample = 0; sample < samples; sample += 1) {
    for (const server of sample % 2 === 0 ? servers : [off, on]) {
      const time = await timeToFirstToken(async () => {
        const [session_id] = await sessions(server.url, 1, 'fast:1');
        return {
          url: `${server.url}/user_request`,
          body: { input: 'go', session_id, stream: true },
          marker: tokenInServer,
        };
      }, 1);
      firsts.get(server.name)?.push(time);
    }
  }

  const cpuOn = cpu.get(on.name) ?? [];
  const cpuOff = cpu.get(off.name) ?? [];
  const runRatios = cpuOn.map((value, index) => (value / cpuOff[index]).toFixed(2)).join(', ');
  const firstOn = median(firsts.get(on.name) ?? []);
  const firstOff = median(firsts.get(off.name) ?? []);
  return [
    ['measure', '--no-metrics', 'metrics on', 'ratio', 'target'],
    [
      `server CPU per token (${clients} concurrent clients, ${tokensPerRun} tokens a run, median of ${repeats})`,
      `${median(cpuOff).toFixed(1)} µs`,
      `${median(cpuOn).toFixed(1)} µs`,
      `${(median(cpuOn) / median(cpuOff)).toFixed(3)}× (runs: ${runRatios})`,
      '< 1.05×',
    ],
    [
      `time to first token through the server, p50 (${samples} each, alternating)`,
      `${firstOff.toFixed(2)} ms`,
      `${firstOn.toFixed(2)} ms`,
      `${(firstOn / firstOff).toFixed(3)}× (${firstOn - firstOff >= 0 ? '+' : ''}${(firstOn - firstOff).toFixed(2)} ms)`,
      '< 1.05×',
    ],
  ];
}
