// Scale-out on one Redis: requests per second of two servers sharing one redis-server against one
// server on it (and against two servers sharing nothing, the most two servers can gain on this
// machine), and the CPU per token of a server on Redis against one on the memory store, at 100
// concurrent clients streaming 200-token answers. Part of `npm run bench` (`--only=scale`).
import { spawn } from 'node:child_process';
import {
  children,
  cpuMilliseconds,
  freePort,
  median,
  relayDirectory,
  relayServerArgs,
  sessions,
  startServer,
  stream,
  tokenInServer,
} from './measure.js';

const redisServerPath = '/usr/bin/redis-server';

/** A redis-server of the bench's own on a free port, saving nothing, with its pid. */
async function startRedis(directory: string): Promise<{ url: string; pid: number }> {
  const port = await freePort();
  const child = spawn(
    redisServerPath,
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', directory, '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    let output = '';
    child.stdout?.on('data', (chunk) => {
      output += chunk;
      if (output.includes('Ready to accept connections')) resolve();
    });
    child.on('error', () => reject(new Error(`cannot run ${redisServerPath}; install redis-server`)));
    child.on('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${output}`)));
  });
  return { url: `redis://127.0.0.1:${port}`, pid: child.pid as number };
}

interface Setup {
  name: string;
  servers: Array<{ url: string; pid: number }>;
}

/**
 * `clients` clients, client `n` on server `n mod servers`, each streaming `rounds` answers of
 * `tokens` tokens one after another: requests per second over the whole run, and the servers' CPU
 * (and Redis's) per token.
 */
async function drive(setup: Setup, clients: number, rounds: number, tokens: number, redisPid?: number) {
  const ids = await Promise.all(
    setup.servers.map((server) => sessions(server.url, Math.ceil(clients / setup.servers.length), `fast:${tokens}`)),
  );
  const pids = setup.servers.map((server) => server.pid);
  const cpu = () => pids.reduce((sum, pid) => sum + cpuMilliseconds(pid), 0);
  const cpuBefore = cpu();
  const redisBefore = redisPid ? cpuMilliseconds(redisPid) : 0;
  const began = performance.now();
  const counts = await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      const server = setup.servers[client % setup.servers.length];
      const session_id = ids[client % setup.servers.length][Math.floor(client / setup.servers.length)];
      let total = 0;
      for (let round = 0; round < rounds; round += 1) {
        // Counted as the upstream sent them: one upstream read's tokens leave as one event.
        const events = await stream({
          url: `${server.url}/user_request`,
          body: { input: 'go', session_id, stream: true },
          marker: tokenInServer,
        }).done;
        if (events > 0) total += tokens;
      }
      return total;
    }),
  );
  const seconds = (performance.now() - began) / 1000;
  const total = counts.reduce((sum, count) => sum + count, 0);
  if (total !== clients * rounds * tokens)
    throw new Error(`${setup.name}: ${total} tokens, not ${clients * rounds * tokens}`);
  return {
    requestsPerSecond: (clients * rounds) / seconds,
    microsecondsPerToken: ((cpu() - cpuBefore) * 1000) / total,
    redisMicrosecondsPerToken: redisPid ? ((cpuMilliseconds(redisPid) - redisBefore) * 1000) / total : 0,
  };
}

export async function scaleOut(upstreamUrl: string, options: { quick: boolean }): Promise<string[][]> {
  const clients = 100;
  const tokens = 200;
  const rounds = options.quick ? 2 : 5;
  const repeats = options.quick ? 1 : 3;
  const directory = await relayDirectory();
  const redis = await startRedis(directory);
  const start = async (store: string, data: string, database?: number) => {
    const args = relayServerArgs(upstreamUrl, directory, store, data);
    if (database !== undefined) args.push('--redis-url', `${redis.url}/${database}`);
    const { child, url } = await startServer(args);
    return { url, pid: child.pid as number };
  };
  // Separate Redis databases: the one server on Redis and the pair share nothing.
  // Two servers sharing nothing (each on its own memory store) say what two servers can gain on
  // this machine at all: with the upstream, the clients and Redis on the same cores, maybe nothing.
  const setups: Setup[] = [
    { name: 'one server, memory store', servers: [await start('memory', 'data-memory')] },
    { name: 'one server on Redis', servers: [await start('redis', 'data-redis', 1)] },
    {
      name: 'two servers on one Redis',
      servers: [await start('redis', 'data-pair-a', 2), await start('redis', 'data-pair-b', 2)],
    },
    {
      name: 'two servers sharing nothing (memory)',
      servers: [await start('memory', 'data-apart-a'), await start('memory', 'data-apart-b')],
    },
  ];
  const results = new Map(setups.map((setup) => [setup.name, [] as Awaited<ReturnType<typeof drive>>[]]));

  console.error('bench: scale-out, warming up');
  for (const setup of setups) await drive(setup, clients, 1, tokens, redis.pid);
  for (let repeat = 0; repeat < repeats; repeat += 1) {
    console.error(`bench: scale-out, run ${repeat + 1} of ${repeats}`);
    // Each setup in turn, the order rotated, so that a machine growing busier moves all alike.
    for (let index = 0; index < setups.length; index += 1) {
      const setup = setups[(index + repeat) % setups.length];
      results.get(setup.name)?.push(await drive(setup, clients, rounds, tokens, redis.pid));
    }
  }
  const of = (name: string, key: 'requestsPerSecond' | 'microsecondsPerToken' | 'redisMicrosecondsPerToken') =>
    median((results.get(name) ?? []).map((result) => result[key]));
  const [memory, single, pair, apart] = setups.map((setup) => setup.name);
  const row = (name: string, against: string) => [
    name,
    `${of(name, 'requestsPerSecond').toFixed(1)} req/s`,
    `${(of(name, 'requestsPerSecond') / of(against, 'requestsPerSecond')).toFixed(2)}×`,
    `${of(name, 'microsecondsPerToken').toFixed(1)} µs`,
    `${(of(name, 'microsecondsPerToken') / of(memory, 'microsecondsPerToken')).toFixed(2)}×`,
    name === memory || name === apart ? '—' : `${of(name, 'redisMicrosecondsPerToken').toFixed(1)} µs`,
  ];
  return [
    [
      `setup (${clients} clients, ${tokens}-token answers, ${rounds} each, median of ${repeats})`,
      'throughput',
      'vs one server on Redis',
      'server CPU per token',
      'vs memory store',
      'Redis CPU per token',
    ],
    row(memory, single),
    row(single, single),
    row(pair, single),
    row(apart, single),
    ['target', '', '≥ 1.6× (two servers)', '', '≤ 1.2× (on Redis)', ''],
  ];
}
