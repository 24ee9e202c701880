// What the measures of `npm run bench` share: the processes they start and the clients they drive.
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export const root = new URL('../..', import.meta.url).pathname;

/** The middle value (the upper one of an even count). */
export const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** A port nothing listens on now, on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
export const agent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });
export const children: ChildProcess[] = [];

export function startHelper(file: string, args: string[] = []): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(join(root, file), args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(child);
  return new Promise((resolve) =>
    child.once('message', (message: { port: number }) => resolve({ child, port: message.port })),
  );
}

export function startServer(args: string[]): Promise<{ child: ChildProcess; url: string }> {
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
export function cpuMilliseconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

export function rssKibibytes(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
}

export interface StreamOptions {
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
export function stream(options: StreamOptions) {
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
          response.setEncoding('utf8');
          if (response.statusCode !== 200) {
            let body = '';
            response.on('data', (text: string) => (body += text));
            response.on('end', () => reject(new Error(`status ${response.statusCode}: ${body}`)));
            return;
          }
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

export async function postJson(url: string, body: unknown): Promise<any> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${url}: ${response.status} ${await response.text()}`);
  return response.json();
}

export const upstreamBody = (model: string) => ({ model, stream: true, messages: [{ role: 'user', content: 'go' }] });
export const tokenInUpstream = '"content":"tok "';
export const tokenInServer = 'event: token';

export async function sessions(serverUrl: string, count: number, model: string): Promise<string[]> {
  const ids: string[] = [];
  for (let index = 0; index < count; index += 1)
    ids.push((await postJson(`${serverUrl}/start_session`, { model })).session_id);
  return ids;
}

/** CPU per token: `clients` concurrent clients, each making `rounds` requests of `tokens` tokens. */
export async function cpuPerToken(
  pid: number,
  run: (client: number) => Promise<number>,
  clients: number,
  rounds: number,
) {
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
export async function timeToFirstToken(
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

/**
 * Opens `count` streams at once; once every one has its first token, the RSS growth per stream
 * (KiB) and how long that took from the first request (ms). The streams are then aborted.
 */
export async function memoryPerStream(pid: number, open: (index: number) => StreamOptions, count: number) {
  await new Promise((resolve) => setTimeout(resolve, 500));
  const before = rssKibibytes(pid);
  let started = 0;
  let allStarted = 0;
  let failure: unknown;
  let abortAll = () => {};
  const began = performance.now();
  const settled = new Promise<void>((resolve, reject) => {
    const streams = Array.from({ length: count }, (_, index) =>
      stream({
        ...open(index),
        onFirst: () => {
          started += 1;
          if (started === count) {
            allStarted = performance.now() - began;
            resolve();
          }
        },
      }),
    );
    // A stream that fails would never start: stop with its error rather than wait forever.
    for (const item of streams) {
      item.done.catch((error) => {
        failure ??= error;
        reject(error);
      });
    }
    abortAll = () => {
      for (const item of streams) item.abort();
    };
  });
  try {
    await settled;
  } catch {
    abortAll();
    throw failure;
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
  const after = rssKibibytes(pid);
  abortAll();
  return { kibibytes: (after - before) / count, allStarted };
}

/**
 * A working directory for the relay measures, with a servers file of one stdio MCP server (the
 * fault server), whose tools every turn lists, as a configured server's would be.
 */
export async function relayDirectory(): Promise<string> {
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
  return directory;
}

/** The flags of a server the relay measures drive, its database in `directory`/`data`. */
export function relayServerArgs(upstreamUrl: string, directory: string, store: string, data = 'data'): string[] {
  return [
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
    join(directory, data),
  ];
}

/** A Markdown table, columns padded to their widest cell. */
export function printTable([head, ...rows]: string[][]) {
  const widths = head.map((_, column) => Math.max(...[head, ...rows].map((row) => row[column].length)));
  const line = (row: string[]) => `| ${row.map((cell, column) => cell.padEnd(widths[column])).join(' | ')} |`;
  console.log(line(head));
  console.log(line(widths.map((width) => '-'.repeat(width))));
  for (const row of rows) console.log(line(row));
}
