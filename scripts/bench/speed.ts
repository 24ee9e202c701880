// The relay against the physical limit: our server and a raw pass-through proxy in front of the same
// fast upstream, driven alike in alternating runs (which goes first alternates too), each figure a
// ratio to the proxy's in the same run, with its spread. Every request to our server is the first
// turn of a fresh session (made beforehand, untimed), as a new chat is. Part of `npm run bench`.
import {
  cpuPerToken,
  median,
  memoryPerStream,
  postJson,
  type StreamOptions,
  stream,
  tokenInServer,
  tokenInUpstream,
  upstreamBody,
} from './measure.js';

export interface Side {
  name: string;
  pid: number;
  /** The request of one first turn answered by upstream model `model` (a session of its own). */
  request(model: string): Promise<StreamOptions>;
}

/** The raw proxy: upstream requests sent through it as they are. */
export function proxySide(pid: number, url: string): Side {
  return {
    name: 'raw proxy',
    pid,
    request: async (model) => ({ url, body: upstreamBody(model), marker: tokenInUpstream }),
  };
}

/** Our server: a session per request, made with `/start_session` before the request is timed. */
export function serverSide(pid: number, url: string): Side {
  return {
    name: 'llm-chat-server',
    pid,
    async request(model) {
      const { session_id } = await postJson(`${url}/start_session`, { model });
      return { url: `${url}/user_request`, body: { input: 'go', session_id, stream: true }, marker: tokenInServer };
    },
  };
}

const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
const percentile = (values: number[], fraction: number) =>
  sorted(values)[Math.min(values.length - 1, Math.ceil(values.length * fraction) - 1)];
const prepare = (side: Side, model: string, count: number) =>
  Promise.all(Array.from({ length: count }, () => side.request(model)));

/**
 * `runs` rounds; in each both sides are measured, the order alternating. Returns each side's
 * values (in round order) and the per-round ratios of the server's to the proxy's.
 */
async function alternate(
  sides: [Side, Side],
  runs: number,
  measure: (side: Side) => Promise<number>,
): Promise<{ proxy: number[]; server: number[]; ratios: number[] }> {
  const [proxy, server] = sides;
  const values = { proxy: [] as number[], server: [] as number[] };
  for (let run = 0; run < runs; run += 1) {
    for (const side of run % 2 === 0 ? [proxy, server] : [server, proxy]) {
      (side === proxy ? values.proxy : values.server).push(await measure(side));
    }
  }
  return { ...values, ratios: values.server.map((value, index) => value / values.proxy[index]) };
}

const ratioCell = (ratios: number[]) =>
  `${median(ratios).toFixed(2)}× (runs: ${ratios.map((ratio) => ratio.toFixed(2)).join(', ')})`;

export interface SpeedOptions {
  quick: boolean;
  /** The measures to run: cpu, cpu10, ttft, latency, memory (`memory` also times the burst). */
  measures: (name: string) => boolean;
  phase: (text: string) => void;
}

/** Rows of the speed table: measure, raw proxy, llm-chat-server, ratio, target. */
export async function speed(sides: [Side, Side], options: SpeedOptions): Promise<string[][]> {
  const { quick, measures, phase } = options;
  const runs = 3;
  const clients = 100;
  const rows: string[][] = [];

  for (const perWrite of [1, 10]) {
    if (!measures(perWrite === 1 ? 'cpu' : 'cpu10')) continue;
    phase(`CPU per token, ${perWrite} token(s) per upstream write`);
    const tokens = quick ? 100 : 300;
    const rounds = quick ? 1 : 3;
    const model = `fast:${tokens}:${perWrite}`;
    let total = 0;
    const result = await alternate(sides, runs, async (side) => {
      const requests = await prepare(side, model, clients * rounds);
      // Tokens are counted as the upstream sent them: the server sends the tokens of one upstream
      // read as one event, so its events do not count them.
      const run = await cpuPerToken(
        side.pid,
        async () => {
          if ((await stream(requests.pop() as StreamOptions).done) === 0) throw new Error(`${side.name}: no token`);
          return tokens;
        },
        clients,
        rounds,
      );
      total = run.tokens;
      return run.microseconds;
    });
    rows.push([
      `CPU per token, ${perWrite === 1 ? '1 token' : `${perWrite} tokens`} per upstream write (${clients} clients, ${total} tokens a run)`,
      `${median(result.proxy).toFixed(1)} µs`,
      `${median(result.server).toFixed(1)} µs`,
      ratioCell(result.ratios),
      perWrite === 1 ? '≤ 1.2×' : '≤ 1.5×',
    ]);
  }

  if (measures('ttft')) {
    phase('time to first token');
    const samples = quick ? 30 : 100;
    const result = await alternate(sides, runs, async (side) => {
      const times: number[] = [];
      for (let sample = 0; sample < samples; sample += 1) {
        const request = await side.request('fast:1');
        const began = performance.now();
        let first = 0;
        await stream({ ...request, onFirst: () => (first = performance.now() - began) }).done;
        times.push(first);
      }
      return median(times);
    });
    rows.push([
      `time to first token, p50 (${samples} sequential first turns a run)`,
      `${median(result.proxy).toFixed(2)} ms`,
      `${median(result.server).toFixed(2)} ms`,
      ratioCell(result.ratios),
      '≤ 1.3×',
    ]);
  }

  if (measures('latency')) {
    phase('latency under load');
    const perClient = quick ? 2 : 5;
    const spreads: number[] = [];
    const p50s = new Map<Side, number[]>(sides.map((side) => [side, []]));
    const result = await alternate(sides, runs, async (side) => {
      const requests = await prepare(side, 'fast:200', clients * perClient);
      const latencies: number[] = [];
      await Promise.all(
        Array.from({ length: clients }, async () => {
          for (let index = 0; index < perClient; index += 1) {
            const began = performance.now();
            await stream(requests.pop() as StreamOptions).done;
            latencies.push(performance.now() - began);
          }
        }),
      );
      const p50 = percentile(latencies, 0.5);
      const p99 = percentile(latencies, 0.99);
      p50s.get(side)?.push(p50);
      if (side === sides[1]) spreads.push(p99 / p50);
      return p99;
    });
    const [proxy, server] = sides.map((side) => median(p50s.get(side) ?? []));
    rows.push([
      `latency p50 and p99 (${clients} clients, 200-token answers, ${clients * perClient} a run)`,
      `${proxy.toFixed(1)} / ${median(result.proxy).toFixed(1)} ms`,
      `${server.toFixed(1)} / ${median(result.server).toFixed(1)} ms`,
      `p99: ${ratioCell(result.ratios)}`,
      '≤ 1.3×',
    ]);
    rows.push([
      'latency p99 / p50 of the server (same runs)',
      '',
      '',
      `${median(spreads).toFixed(2)} (runs: ${spreads.map((spread) => spread.toFixed(2)).join(', ')})`,
      '≤ 1.5',
    ]);
  }

  if (measures('memory')) {
    phase('memory per open stream, and a burst of new streams');
    const count = quick ? 200 : 1000;
    const bursts = new Map<Side, number[]>(sides.map((side) => [side, []]));
    const result = await alternate(sides, runs, async (side) => {
      const requests = await prepare(side, 'slow', count);
      const measured = await memoryPerStream(side.pid, (index) => requests[index], count);
      bursts.get(side)?.push(measured.allStarted);
      return measured.kibibytes;
    });
    const [proxyBursts, serverBursts] = sides.map((side) => bursts.get(side) ?? []);
    rows.push([
      `memory per open stream (${count} slow streams)`,
      `${median(result.proxy).toFixed(1)} KiB`,
      `${median(result.server).toFixed(1)} KiB`,
      ratioCell(result.ratios),
      '≤ 1.25×',
    ]);
    rows.push([
      `time until ${count} new streams all have a first token`,
      `${median(proxyBursts).toFixed(0)} ms`,
      `${median(serverBursts).toFixed(0)} ms`,
      ratioCell(serverBursts.map((value, index) => value / proxyBursts[index])),
      '≤ 1.5×',
    ]);
  }
  return rows;
}
