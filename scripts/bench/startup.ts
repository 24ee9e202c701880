// Start-up time and idle memory of a process that serves HTTP: spawn → first 200 on a path, then
// its resident memory once it has served that request and sat idle: a second after (what start-up
// left behind) and once settled (V8 gives back start-up garbage after some 8 s of low allocation:
// its memory reducer). Part of `npm run bench`.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { freePort, median } from './measure.js';

export interface StartupTarget {
  name: string;
  /** Arguments to `node`; `port` is the port the process must listen on (also in its `PORT`). */
  args: (port: number) => string[];
  /** The path polled until it answers 200 (a raw proxy forwards it, so any answering path does). */
  path: string;
}

export interface StartupSample {
  /** Spawn to the first 200, in milliseconds. */
  milliseconds: number;
  /** CPU time (user + system) the process used until then, in milliseconds: steadier than wall time on a busy machine. */
  cpuMilliseconds: number;
  /** VmRSS after the first 200 and `idle` ms of rest, in MiB. */
  rssMebibytes: number;
  /** VmRSS after the first 200 and `settle` ms of rest, in MiB: the idle process. */
  settledMebibytes: number;
}

const delay = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

/** The status of one GET, or undefined while nothing listens. The body is not read. */
function status(port: number, path: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const outgoing = request({ host: '127.0.0.1', port, path, agent: false }, (response) => {
      resolve(response.statusCode);
      outgoing.destroy();
    });
    outgoing.on('error', () => resolve(undefined));
    outgoing.end();
  });
}

function cpuMilliseconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

function rssMebibytes(pid: number): number {
  const kibibytes = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return kibibytes / 1024;
}

/**
 * One start: spawn, poll `path` every 2 ms until 200, rest `idle` ms, read RSS; then, while the
 * caller goes on (an idle process takes no CPU from the next start), rest until `settle` ms, read
 * RSS again and stop the process: `settled` resolves then.
 */
export async function startOnce(
  target: StartupTarget,
  idle: number,
  settle: number,
): Promise<{ settled: Promise<StartupSample> }> {
  const port = await freePort();
  let output = '';
  const began = performance.now();
  const child = spawn(process.execPath, target.args(port), {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(port) },
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let exitCode: number | null | undefined;
  child.once('exit', (code) => {
    exitCode = code;
  });
  const stop = async () => {
    if (exitCode === undefined) child.kill('SIGINT');
    await exited;
  };
  try {
    while ((await status(port, target.path)) !== 200) {
      if (exitCode !== undefined) throw new Error(`${target.name} exited ${exitCode}: ${output}`);
      await delay(2);
    }
    const milliseconds = performance.now() - began;
    const cpu = cpuMilliseconds(child.pid as number);
    await delay(idle);
    const rss = rssMebibytes(child.pid as number);
    const settled = (async () => {
      try {
        await delay(settle - idle);
        const settledMebibytes = rssMebibytes(child.pid as number);
        return { milliseconds, cpuMilliseconds: cpu, rssMebibytes: rss, settledMebibytes };
      } finally {
        await stop();
      }
    })();
    return { settled };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** `runs` starts of each target, interleaved so the machine's noise falls on all alike; medians. */
export async function measureStartup(targets: StartupTarget[], runs: number, idle: number, settle: number) {
  const pending = new Map<string, Promise<StartupSample>[]>(targets.map((target) => [target.name, []]));
  for (let run = 0; run < runs; run += 1) {
    for (const target of targets) pending.get(target.name)?.push((await startOnce(target, idle, settle)).settled);
  }
  return Promise.all(
    targets.map(async (target) => {
      const taken = await Promise.all(pending.get(target.name) ?? []);
      return {
        name: target.name,
        milliseconds: median(taken.map((sample) => sample.milliseconds)),
        cpuMilliseconds: median(taken.map((sample) => sample.cpuMilliseconds)),
        rssMebibytes: median(taken.map((sample) => sample.rssMebibytes)),
        settledMebibytes: median(taken.map((sample) => sample.settledMebibytes)),
      };
    }),
  );
}
