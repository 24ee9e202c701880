// What a CPU profile of the bundled server spends its time on, by package and source file:
//   BUILD_READABLE=1 npm run build
//   BENCH_PROFILE=/tmp/profile npx tsx scripts/bench/run.ts --only=ttft
//   npx tsx scripts/bench/profile-shares.ts /tmp/profile/CPU.*.cpuprofile
// Each sample goes to the innermost frame that is in the bundle (dist/cli/, whose `// path`
// comments name the package or source file of each line) or in node_modules; Node's own code and
// native work (a socket write, JSON.parse, a SQLite call) count for the frame that called them.
// Idle time is left out; the shares are of the time the process was busy.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const bundle = join(dirname(fileURLToPath(import.meta.url)), '../../dist/cli');
const [file, rows = '30'] = process.argv.slice(2);
if (!file) {
  console.error('usage: tsx scripts/bench/profile-shares.ts <file.cpuprofile> [rows]');
  process.exit(2);
}

/** For each bundle file, the lines where a module starts and the module's package or path. */
const starts = new Map<string, Array<[number, string]>>();
for (const name of readdirSync(bundle).filter((entry) => entry.endsWith('.js'))) {
  const marks: Array<[number, string]> = [];
  readFileSync(join(bundle, name), 'utf8')
    .split('\n')
    .forEach((line, index) => {
      const path = /^\/\/ ((?:node_modules|src)\/\S+)/.exec(line)?.[1];
      if (path) marks.push([index, packageOf(path) ?? path]);
    });
  starts.set(name, marks);
}

function packageOf(path: string): string | undefined {
  return /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1];
}

function moduleOf({ url, lineNumber }: ProfileNode['callFrame']): string | undefined {
  if (url.includes('/dist/cli/')) {
    let found: string | undefined;
    for (const [line, name] of starts.get(url.split('/').pop() ?? '') ?? []) {
      if (line > lineNumber) break;
      found = name;
    }
    return found ?? 'bundle';
  }
  return packageOf(url);
}

const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const parents = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);

const shares = new Map<string, number>();
let busy = 0;
profile.samples.forEach((sample, index) => {
  const leaf = nodes.get(sample)?.callFrame;
  if (!leaf || leaf.functionName === '(idle)') return;
  const time = profile.timeDeltas[index] ?? 0;
  busy += time;
  let owner: string | undefined;
  for (let id: number | undefined = sample; id !== undefined && !owner; id = parents.get(id)) {
    const frame = nodes.get(id)?.callFrame;
    if (frame) owner = moduleOf(frame);
  }
  // Samples with no bundled or package frame: V8's own (garbage collector, program) or Node's.
  owner ??= leaf.functionName.startsWith('(') ? leaf.functionName : 'node (no caller of ours)';
  shares.set(owner, (shares.get(owner) ?? 0) + time);
});

console.log(`busy ${(busy / 1000).toFixed(0)} ms`);
for (const [owner, time] of [...shares].sort((a, b) => b[1] - a[1]).slice(0, Number(rows))) {
  console.log(`${((100 * time) / busy).toFixed(1).padStart(5)}%  ${owner}`);
}
