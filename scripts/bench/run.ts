// npm run bench: the relay's speed and memory against the physical limit (a raw proxy), and its
// start-up time and idle memory against the raw proxy and a plain relay, on this machine, in one run.
// Prints two tables; see README "Speed and memory".
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { measureStartup } from './startup.js';

const root = new URL('../..', import.meta.url).pathname;
const agent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });
const children: ChildProcess[] = [];
const quick = process.argv.includes('--quick');
/** `--only=startup,cpu,ttft,memory,approvals`: run just those measures. */
const only = process.argv
  .find((arg) => arg.startsWith('--only='))
  ?.slice(7)
  .split(',');
const measures = (name: string) => !only || only.includes(name);
/** `--store=memory`: the server keeps sessions in memory (default: SQLite, as users run it). */
const store = process.argv.find((arg) => arg.startsWith('--store='))?.slice(8) ?? 'sqlite';

function startHelper(file: string, args: string[] = []): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(join(root, file), args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(child);
  return new Promise((resolve) =>
    child.once('message', (message: { port: number }) => resolve({ child, port: message.port })),
  );
}

function startServer(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  // BENCH_PROFILE=dir writes a V8 CPU profile of the server there (for finding what costs).
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  const child = spawn(process.execPath, [...profile, join(root, 'bin/llm-chat-server.js'), '--port', '0', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let output = '';
    child.stderr?.on('data', (chunk) => {
      output += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) resolve({ child, url: match[1] });
    });
    child.on('exit', (code) => reject(new Error(`server exited ${code}: ${output}`)));
  });
}

/** CPU time (user + system) of a process so far, in milliseconds, from /proc. */
function cpuMilliseconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

function rssKibibytes(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
}

interface StreamOptions {
  url: string;
  body: unknown;
  /** Text that marks one token in the stream. */
  marker: string;
  onFirst?: () => void;
  onText?: (text: string) => void;
}

/**
 * Opens a streaming POST; resolves with the token count when it ends. `abort` ends it early. A
 * request that fails on a reused keep-alive socket before any answer (the server closed it as the
 * request left) is sent again once: without that, one such race in 1000 streams hung the bench.
 */
function stream(options: StreamOptions) {
  let tokens = 0;
  let carry = '';
  const url = new URL(options.url);
  const payload = JSON.stringify(options.body);
  let abort = () => {};
  const done = new Promise<number>((resolve, reject) => {
    const send = (retry: boolean) => {
      let answered = false;
      const outgoing = request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          agent,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(payload),
            host: `127.0.0.1:${url.port}`,
          },
        },
        (response) => {
          answered = true;
          if (response.statusCode !== 200) reject(new Error(`status ${response.statusCode}`));
          response.setEncoding('utf8');
          response.on('data', (text: string) => {
            const joined = carry + text;
            const before = tokens;
            let at = joined.indexOf(options.marker);
            while (at !== -1) {
              tokens += 1;
              at = joined.indexOf(options.marker, at + options.marker.length);
            }
            carry = joined.slice(-options.marker.length);
            if (before === 0 && tokens > 0) options.onFirst?.();
            options.onText?.(text);
          });
          response.on('end', () => resolve(tokens));
          response.on('error', reject);
        },
      );
      let aborted = false;
      outgoing.on('error', (error: NodeJS.ErrnoException) => {
        if (retry && !aborted && !answered && outgoing.reusedSocket && error.code === 'ECONNRESET') send(false);
        else reject(error);
      });
      abort = () => {
        aborted = true;
        outgoing.destroy();
      };
      outgoing.end(payload);
    };
    send(true);
  });
  return { done, abort: () => abort() };
}

async function postJson(url: string, body: unknown): Promise<any> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${url}: ${response.status} ${await response.text()}`);
  return response.json();
}

const upstreamBody = (model: string) => ({ model, stream: true, messages: [{ role: 'user', content: 'go' }] });
const tokenInUpstream = '"content":"tok "';
const tokenInServer = 'event: token';

async function sessions(serverUrl: string, count: number, model: string): Promise<string[]> {
  const ids: string[] = [];
  for (let index = 0; index < count; index += 1)
    ids.push((await postJson(`${serverUrl}/start_session`, { model })).session_id);
  return ids;
}

/** CPU per token: `clients` concurrent clients, each making `rounds` requests of `tokens` tokens. */
async function cpuPerToken(pid: number, run: (client: number) => Promise<number>, clients: number, rounds: number) {
  const start = cpuMilliseconds(pid);
  const began = performance.now();
  const counts = await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      let total = 0;
      for (let round = 0; round < rounds; round += 1) total += await run(client);
      return total;
    }),
  );
  const tokens = counts.reduce((sum, count) => sum + count, 0);
  return {
    microseconds: ((cpuMilliseconds(pid) - start) * 1000) / tokens,
    tokens,
    seconds: (performance.now() - began) / 1000,
  };
}

/** Median time to the first token; `prepare` (untimed) gives each sample its request. */
async function timeToFirstToken(
  prepare: () => Promise<Omit<StreamOptions, 'onFirst'>>,
  samples: number,
): Promise<number> {
  const times: number[] = [];
  for (let index = 0; index < samples; index += 1) {
    const options = await prepare();
    const began = performance.now();
    let first = 0;
    await stream({ ...options, onFirst: () => (first = performance.now() - began) }).done;
    times.push(first);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

async function memoryPerStream(pid: number, open: (index: number) => StreamOptions, count: number) {
  await new Promise((resolve) => setTimeout(resolve, 500));
  const before = rssKibibytes(pid);
  let started = 0;
  const streams = Array.from({ length: count }, (_, index) =>
    stream({ ...open(index), onFirst: () => (started += 1) }),
  );
  // A stream that fails would never start: stop with its error rather than wait forever.
  let failure: unknown;
  for (const item of streams) {
    item.done.catch((error) => {
      failure ??= error;
    });
  }
  while (started < count && failure === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
  if (failure !== undefined) {
    for (const item of streams) item.abort();
    throw failure;
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
  const after = rssKibibytes(pid);
  for (const item of streams) item.abort();
  return (after - before) / count;
}

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
  );
  const proxy = results[0];
  const rows = results.map((result) => [
    result.name,
    `${result.milliseconds.toFixed(0)} ms`,
    `${(result.milliseconds / proxy.milliseconds).toFixed(2)}×`,
    `${result.cpuMilliseconds.toFixed(0)} ms`,
    `${result.rssMebibytes.toFixed(1)} MiB`,
    `${(result.rssMebibytes / proxy.rssMebibytes).toFixed(2)}×`,
  ]);
  return [
    ['process', `spawn → /health 200 (median of ${runs})`, 'ratio', 'CPU until then', 'idle RSS', 'ratio'],
    ...rows,
    ['target (llm-chat-server)', '≤ 500 ms', '', '', '≤ 80 MiB', ''],
  ];
}

/** A Markdown table, columns padded to their widest cell. */
function printTable([head, ...rows]: string[][]) {
  const widths = head.map((_, column) => Math.max(...[head, ...rows].map((row) => row[column].length)));
  const line = (row: string[]) => `| ${row.map((cell, column) => cell.padEnd(widths[column])).join(' | ')} |`;
  console.log(line(head));
  console.log(line(widths.map((width) => '-'.repeat(width))));
  for (const row of rows) console.log(line(row));
}

/** Our server against the raw proxy: CPU per token, added time to first token, memory per stream, approvals. */
async function throughput(upstreamUrl: string): Promise<string[][]> {
  const clients = 100;
  const rounds = quick ? 1 : 3;
  const tokens = quick ? 100 : 300;
  const idle = quick ? 200 : 1000;

  const { child: proxy, port: proxyPort } = await startHelper('scripts/bench/proxy.mjs', [upstreamUrl]);
  const proxyUrl = `http://127.0.0.1:${proxyPort}/v1/chat/completions`;

  const directory = await mkdtemp(join(tmpdir(), 'bench-'));
  const loader = pathToFileURL(join(root, 'node_modules/tsx/dist/loader.mjs')).href;
  await writeFile(
    join(directory, 'servers.json'),
    JSON.stringify({
      mcpServers: {
        fault: {
          command: process.execPath,
          args: ['--import', loader, join(root, 'test/helpers/mcp-fault-server.ts')],
        },
      },
    }),
  );
  const { child: server, url: serverUrl } = await startServer([
    '--provider',
    'openai',
    '--openai-base-url',
    `${upstreamUrl}/v1`,
    '--current-directory',
    directory,
    '--servers-config',
    join(directory, 'servers.json'),
    '--resume-grace',
    '1s',
    '--max-input-chars',
    '1000000',
    // Every measured request is a first turn of a new session, all from this one address.
    '--sessions-per-minute',
    '0',
    '--store',
    store,
    '--data-dir',
    join(directory, 'data'),
  ]);
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

  if (measures('cpu')) {
    phase('CPU per token');
    // Alternating runs, medians: the machine's noise moves both sides alike.
    const rawRuns: Array<{ microseconds: number; tokens: number }> = [];
    const ourRuns: Array<{ microseconds: number; tokens: number }> = [];
    for (let repeat = 0; repeat < (quick ? 1 : 3); repeat += 1) {
      rawRuns.push(
        await cpuPerToken(
          proxyPid,
          () => stream({ url: proxyUrl, body: upstreamBody(`fast:${tokens}`), marker: tokenInUpstream }).done,
          clients,
          rounds,
        ),
      );
      const ids = await sessions(serverUrl, clients, `fast:${tokens}`);
      ourRuns.push(
        await cpuPerToken(
          serverPid,
          (client) =>
            stream({
              url: `${serverUrl}/user_request`,
              body: { input: 'go', session_id: ids[client], stream: true },
              marker: tokenInServer,
            }).done,
          clients,
          rounds,
        ),
      );
    }
    const median = (runs: Array<{ microseconds: number }>) =>
      runs.map((run) => run.microseconds).sort((a, b) => a - b)[Math.floor(runs.length / 2)];
    const raw = { microseconds: median(rawRuns), tokens: rawRuns[0].tokens };
    const ours = { microseconds: median(ourRuns) };
    const ratios = rawRuns.map((run, index) => (ourRuns[index].microseconds / run.microseconds).toFixed(2)).join(', ');
    rows.push([
      `server CPU per token (${clients} concurrent clients, ${raw.tokens} tokens a run)`,
      `${raw.microseconds.toFixed(1)} µs`,
      `${ours.microseconds.toFixed(1)} µs`,
      `${(ours.microseconds / raw.microseconds).toFixed(2)}× (runs: ${ratios})`,
      '≤ 1.2×',
    ]);
  }

  if (measures('ttft')) {
    phase('time to first token');
    const samples = quick ? 50 : 200;
    const direct = await timeToFirstToken(
      async () => ({
        url: `${upstreamUrl}/v1/chat/completions`,
        body: upstreamBody('fast:1'),
        marker: tokenInUpstream,
      }),
      samples,
    );
    const viaProxy = await timeToFirstToken(
      async () => ({ url: proxyUrl, body: upstreamBody('fast:1'), marker: tokenInUpstream }),
      samples,
    );
    // The first turn of a fresh session each time, as the direct call sends one message.
    const viaServer = await timeToFirstToken(async () => {
      const [session_id] = await sessions(serverUrl, 1, 'fast:1');
      return {
        url: `${serverUrl}/user_request`,
        body: { input: 'go', session_id, stream: true },
        marker: tokenInServer,
      };
    }, samples);
    rows.push([
      'added time to first token, p50 (over calling the upstream directly)',
      `${(viaProxy - direct).toFixed(2)} ms`,
      `${(viaServer - direct).toFixed(2)} ms`,
      '',
      '≤ 0.5 ms',
    ]);
  }

  if (measures('memory')) {
    phase('memory per open stream');
    const slow = await sessions(serverUrl, idle, 'slow');
    const proxyMemory = await memoryPerStream(
      proxyPid,
      () => ({ url: proxyUrl, body: upstreamBody('slow'), marker: tokenInUpstream }),
      idle,
    );
    const serverMemory = await memoryPerStream(
      serverPid,
      (index) => ({
        url: `${serverUrl}/user_request`,
        body: { input: 'wait', session_id: slow[index], stream: true },
        marker: tokenInServer,
      }),
      idle,
    );
    rows.push([
      `memory per open stream (${idle} slow streams)`,
      `${proxyMemory.toFixed(1)} KiB`,
      `${serverMemory.toFixed(1)} KiB`,
      '',
      '≤ 45 KiB',
    ]);
  }

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
  if (['cpu', 'ttft', 'memory', 'approvals'].some(measures)) tables.push(await throughput(upstreamUrl));
  for (const table of tables) {
    printTable(table);
    console.log();
  }
  console.log(
    `(${process.arch}, ${process.version}, ${(await import('node:os')).cpus().length} cores; CPU from /proc, memory as RSS: VmRSS after start-up and 1 s idle, RSS growth per stream)`,
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
