// Two builds (or two settings) of the server side by side, for what one change buys:
//   git worktree add /tmp/before HEAD~1 && (cd /tmp/before && npm ci && npm run build)
//   npm run build && npx tsx scripts/bench/compare-builds.ts /tmp/before/bin/llm-chat-server.js bin/llm-chat-server.js
// Both servers run at once, each pinned to the same core, and the requests alternate between them
// in small batches (`--rounds=100` of 30 sequential first turns and 50 concurrent 300-token answers
// each), so that what the machine does meanwhile falls on both alike: on a shared machine that
// resolves a few percent where separate runs move by a third. `--store-a=memory`, `--store-b=…`
// set each side's store (default sqlite). Compare a build with itself first to see the noise.
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { cpuMilliseconds, median, postJson, relayDirectory, relayServerArgs, stream } from './measure.js';

const option = (name: string) => process.argv.find((arg) => arg.startsWith(`--${name}=`))?.split('=')[1];
const [binA, binB] = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
if (!binA || !binB) {
  console.error(
    'usage: tsx scripts/bench/compare-builds.ts <bin A> <bin B> [--rounds=100] [--store-a=sqlite] [--store-b=sqlite]',
  );
  process.exit(2);
}
const rounds = Number(option('rounds') ?? 100);
const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const child of children) child.kill();
});

const upstream = fork(new URL('./upstream.mjs', import.meta.url), [], { stdio: 'inherit' });
children.push(upstream);
const upstreamUrl = `http://127.0.0.1:${await new Promise<number>((resolve) => upstream.once('message', (message: { port: number }) => resolve(message.port)))}`;

async function start(bin: string, store: string) {
  const directory = await relayDirectory();
  const child = spawn(
    'taskset',
    ['-c', '1', process.execPath, bin, '--port', '0', ...relayServerArgs(upstreamUrl, directory, store)],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  children.push(child);
  const url = await new Promise<string>((resolve, reject) => {
    let output = '';
    child.stderr?.on('data', (chunk) => {
      output += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) resolve(match[1]);
    });
    child.on('exit', (code) => reject(new Error(`${bin} exited ${code}: ${output}`)));
  });
  return { url, pid: child.pid as number, first: [] as number[], turnCpu: 0, turns: 0, tokenCpu: 0, tokens: 0 };
}
type Side = Awaited<ReturnType<typeof start>>;

const sessions = (side: Side, model: string, count: number) =>
  Promise.all(
    Array.from(
      { length: count },
      async () => (await postJson(`${side.url}/start_session`, { model })).session_id as string,
    ),
  );
const turn = (side: Side, sessionId: string, onFirst?: () => void) =>
  stream({
    url: `${side.url}/user_request`,
    body: { input: 'go', session_id: sessionId, stream: true },
    marker: 'event: token',
    onFirst,
  }).done;

const sides = [
  await start(binA, option('store-a') ?? 'sqlite'),
  await start(binB, option('store-b') ?? 'sqlite'),
] as const;
// Warm both: the JIT and the pools, before anything counts.
for (const side of sides) for (const id of await sessions(side, 'fast:20', 100)) await turn(side, id);

for (let round = 0; round < rounds; round += 1) {
  for (const side of round % 2 === 0 ? sides : [...sides].reverse()) {
    const firsts = await sessions(side, 'fast:1', 30);
    let cpu = cpuMilliseconds(side.pid);
    for (const id of firsts) {
      const began = performance.now();
      await turn(side, id, () => side.first.push(performance.now() - began));
    }
    side.turnCpu += cpuMilliseconds(side.pid) - cpu;
    side.turns += firsts.length;
    const answers = await sessions(side, 'fast:300:10', 50);
    cpu = cpuMilliseconds(side.pid);
    await Promise.all(answers.map((id) => turn(side, id)));
    side.tokenCpu += cpuMilliseconds(side.pid) - cpu;
    side.tokens += 300 * answers.length;
  }
}

const figures = sides.map((side) => ({
  first: median(side.first),
  turn: side.turnCpu / side.turns,
  token: (side.tokenCpu * 1000) / side.tokens,
}));
const [a, b] = figures;
console.log(
  `A ${binA}: first token p50 ${a.first.toFixed(2)} ms, CPU per first turn ${a.turn.toFixed(2)} ms, CPU per token (10 a write) ${a.token.toFixed(2)} µs`,
);
console.log(
  `B ${binB}: first token p50 ${b.first.toFixed(2)} ms, CPU per first turn ${b.turn.toFixed(2)} ms, CPU per token (10 a write) ${b.token.toFixed(2)} µs`,
);
console.log(
  `B / A: first token ${(b.first / a.first).toFixed(3)}, CPU per first turn ${(b.turn / a.turn).toFixed(3)}, CPU per token ${(b.token / a.token).toFixed(3)}`,
);
process.exit(0);
