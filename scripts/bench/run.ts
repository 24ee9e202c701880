// npm run bench: the relay's speed and memory against the physical limit (a raw proxy), its
// start-up time and idle memory against the raw proxy and a plain relay, what its metrics cost
// (the relay with metrics on and with --no-metrics), and two servers on one Redis against one, on
// this machine, in one run. Prints four tables; see README "Speed and memory", "Metrics and
// traces" and "Scale out".
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  agent,
  children,
  printTable,
  relayDirectory,
  relayServerArgs,
  root,
  sessions,
  startHelper,
  startServer,
  stream,
  tokenInServer,
  tokenInUpstream,
  upstreamBody,
} from './measure.js';
import { metricsCost } from './metrics-cost.js';
import { scaleOut } from './scale-out.js';
import { proxySide, serverSide, speed } from './speed.js';
import { measureStartup } from './startup.js';

const quick = process.argv.includes('--quick');
/** `--only=startup,cpu,cpu10,ttft,latency,memory,approvals,metrics,scale`: run just those measures. */
const only = process.argv
  .find((arg) => arg.startsWith('--only='))
  ?.slice(7)
  .split(',');
const measures = (name: string) => !only || only.includes(name);
/** `--store=memory`: the server keeps sessions in memory (default: SQLite, as users run it). */
const store = process.argv.find((arg) => arg.startsWith('--store='))?.slice(8) ?? 'sqlite';

/**
 * Spawn to the first `/health` 200 (the proxy forwards the request, so its first answer), and the
 * resident memory after one request and a second of rest: our server as `npx llm-chat-server`
 * starts it (the package's own servers file: the filesystem tools), the raw proxy, a plain relay.
 */
async function startup(upstreamUrl: string, runs: number) {
  console.error(`bench: start-up and idle memory (${runs} starts each, --store ${store})`);
  const directory = await mkdtemp(join(tmpdir(), 'bench-startup-'));
  const results = await measureStartup(
    [
      { name: 'raw proxy', path: '/health', args: () => [join(root, 'scripts/bench/proxy.mjs'), upstreamUrl] },
      { name: 'plain relay', path: '/health', args: () => [join(root, 'scripts/bench/relay.mjs'), upstreamUrl] },
      {
        name: 'llm-chat-server',
        path: '/health',
        args: (port) => [
          join(root, 'bin/llm-chat-server.js'),
          '--port',
          String(port),
          '--provider',
          'openai',
          '--openai-base-url',
          `${upstreamUrl}/v1`,
          '--current-directory',
          directory,
          '--resume-grace',
          '1s',
          '--max-input-chars',
          '1000000',
          '--sessions-per-minute',
          '0',
          '--store',
          store,
          // A database of each start's own: a second server may not open one that is in use.
          '--data-dir',
          join(directory, `data-${port}`),
        ],
      },
    ],
    runs,
    1000,
    quick ? 1000 : 10_000,
  );
  const proxy = results[0];
  const rows = results.map((result) => [
    result.name,
    `${result.milliseconds.toFixed(0)} ms`,
    `${(result.milliseconds / proxy.milliseconds).toFixed(2)}×`,
    `${result.cpuMilliseconds.toFixed(0)} ms`,
    `${result.rssMebibytes.toFixed(1)} MiB`,
    `${result.settledMebibytes.toFixed(1)} MiB`,
    `${(result.settledMebibytes / proxy.settledMebibytes).toFixed(2)}×`,
  ]);
  return [
    [
      'process',
      `spawn → /health 200 (median of ${runs})`,
      'ratio',
      'CPU until then',
      'RSS 1 s after',
      `idle RSS (${quick ? 1 : 10} s after)`,
      'ratio',
    ],
    ...rows,
    ['target (llm-chat-server)', '≤ 500 ms', '', '', '', '≤ 80 MiB', ''],
  ];
}

/** Our server against the raw proxy: CPU per token, added time to first token, memory per stream, approvals. */
async function throughput(upstreamUrl: string): Promise<string[][]> {
  const clients = 100;
  const tokens = quick ? 100 : 300;
  const idle = quick ? 200 : 1000;

  const { child: proxy, port: proxyPort } = await startHelper('scripts/bench/proxy.mjs', [upstreamUrl]);
  const proxyUrl = `http://127.0.0.1:${proxyPort}/v1/chat/completions`;

  const directory = await relayDirectory();
  const { child: server, url: serverUrl } = await startServer(relayServerArgs(upstreamUrl, directory, store));
  const rows: string[][] = [];
  const serverPid = server.pid as number;
  const proxyPid = proxy.pid as number;

  const phase = (text: string) => console.error(`bench: ${text}`);
  phase('warming up');
  // Warm both up (JIT, connections) before measuring.
  const warm = await sessions(serverUrl, clients, `fast:${tokens}`);
  await Promise.all(
    warm.map(
      (session_id) =>
        stream({
          url: `${serverUrl}/user_request`,
          body: { input: 'warm', session_id, stream: true },
          marker: tokenInServer,
        }).done,
    ),
  );
  await Promise.all(
    warm.map(() => stream({ url: proxyUrl, body: upstreamBody(`fast:${tokens}`), marker: tokenInUpstream }).done),
  );

  rows.push(
    ...(await speed([proxySide(proxyPid, proxyUrl), serverSide(serverPid, serverUrl)], { quick, measures, phase })),
  );

  if (measures('approvals')) {
    phase('streams waiting on approval');
    // Streams waiting on an approval: every one must get its keep-alive within 15 s, none may fail.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const waiting = await sessions(serverUrl, idle, 'tool');
    const lastEvent = new Map<number, number>();
    const gaps: number[] = [];
    let errors = 0;
    let approvals = 0;
    const held = waiting.map((session_id, index) =>
      stream({
        url: `${serverUrl}/user_request`,
        body: { input: 'count', session_id, stream: true },
        marker: 'event: approval_required',
        onFirst: () => {
          approvals += 1;
        },
        onText: (text) => {
          const now = performance.now();
          if (text.includes(': ping')) {
            gaps.push(now - (lastEvent.get(index) ?? now));
            lastEvent.set(index, now);
          } else {
            lastEvent.set(index, now);
          }
          if (text.includes('event: error')) errors += 1;
        },
      }),
    );
    for (const item of held) item.done.catch(() => (errors += 1));
    const holdFor = quick ? 17_000 : 32_000;
    await new Promise((resolve) => setTimeout(resolve, holdFor));
    for (const item of held) item.abort();
    const longest = gaps.length ? Math.max(...gaps) / 1000 : Number.NaN;
    rows.push([
      `${idle} streams waiting on approval, held ${holdFor / 1000} s`,
      '',
      `${approvals} waiting, ${errors} errors, ${gaps.length} pings, longest silence ${longest.toFixed(1)} s`,
      '',
      '0 errors, pings ≤ 15 s apart',
    ]);
  }

  return [['measure', 'raw proxy', 'llm-chat-server', 'ratio', 'target'], ...rows];
}

async function main() {
  const { port: upstreamPort } = await startHelper('scripts/bench/upstream.mjs');
  const upstreamUrl = `http://127.0.0.1:${upstreamPort}`;
  const tables: string[][][] = [];
  // First, while nothing else runs: the other measures leave a busy machine behind.
  if (measures('startup')) tables.push(await startup(upstreamUrl, quick ? 3 : 5));
  if (['cpu', 'cpu10', 'ttft', 'latency', 'memory', 'approvals'].some(measures))
    tables.push(await throughput(upstreamUrl));
  if (measures('metrics')) tables.push(await metricsCost(upstreamUrl, { quick, store }));
  if (measures('scale')) tables.push(await scaleOut(upstreamUrl, { quick }));
  for (const table of tables) {
    printTable(table);
    console.log();
  }
  console.log(
    `(${process.arch}, ${process.version}, ${(await import('node:os')).cpus().length} cores; CPU from /proc, memory as RSS: VmRSS 1 s and 10 s after start-up (idle: V8 returns start-up garbage after some 8 s of rest), RSS growth per stream)`,
  );
}

main()
  .catch((error) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(async () => {
    agent.destroy();
    await Promise.all(
      children.map((child) => {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGINT');
        return exited;
      }),
    );
  });
