import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { faultServer } from '../helpers/mcp-servers.js';
import { useRedisServer } from '../helpers/redis-server.js';
import { startServer } from '../helpers/server-process.js';
import { parseSse } from '../helpers/sse.js';
import { temporaryDirectory } from '../helpers/test-app.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

// Three real servers on one real Redis that keeps its data on disk (an append-only file synced at
// every write), stopped with SIGKILL for 5 s while clients keep all three busy with turns that run
// a tool: requests fail fast and say why, then every server serves again without a restart, and no
// tool call ran twice.
const redis = useRedisServer({ persist: true });
const upstream = useFakeUpstream();

type Server = Awaited<ReturnType<typeof startServer>>;

const outage = 5000;
/** The longest any request may take, outage or not: a command's bound (2 s) and a lease's life (3 s) with room. */
const bound = 6000;

let cwd: string;
let countFile: string;
let servers: Server[];

beforeAll(async () => {
  cwd = await temporaryDirectory('outage-');
  countFile = join(cwd, 'count.txt');
  const fault = faultServer(countFile, { autoApprove: ['count'] });
  await writeFile(join(cwd, 'servers.json'), JSON.stringify({ mcpServers: { fault } }));
  const start = () =>
    startServer(
      [
        ...['--ollama-base-url', upstream.url, '--store', 'redis', '--redis-url', redis.url],
        ...['--servers-config', 'servers.json', '--sessions-per-minute', '0'],
      ],
      { cwd },
    );
  servers = await Promise.all([start(), start(), start()]);
}, 120_000);
afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop()));
});

interface Outcome {
  server: number;
  startedAt: number;
  milliseconds: number;
  /** `done`, or the error code of the response or of the stream's `error` event. */
  result: string;
}

/** One client of `server`: streaming turns on its own session, one after another, until `stop()`. */
async function client(server: number, stop: () => boolean, outcomes: Outcome[]) {
  const url = servers[server].url;
  const post = (path: string, body: unknown) =>
    fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const { session_id } = (await (await post('/start_session', {})).json()) as { session_id: string };
  while (!stop()) {
    const startedAt = Date.now();
    let result: string;
    try {
      const response = await post('/user_request', { input: 'count', session_id, stream: true });
      if (response.status !== 200) result = ((await response.json()) as any).error.code;
      else {
        const last = parseSse(await response.text()).at(-1);
        result = last?.event === 'error' ? last.data.error.code : (last?.event ?? 'nothing');
      }
    } catch {
      result = 'connection failed';
    }
    outcomes.push({ server, startedAt, milliseconds: Date.now() - startedAt, result });
    // A client backs off a little after a failure, as EventSource does.
    if (result !== 'done') await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('Redis stopped for 5 s under traffic on three servers', { timeout: 180_000 }, () => {
  it('fails requests fast with store_unavailable, recovers without a restart, runs no tool call twice', async () => {
    for (let turn = 0; turn < 2000; turn += 1) {
      upstream.reply(
        {
          text: ['Counting', ' now.'],
          delayMs: 20,
          toolCalls: [{ name: 'count', arguments: { label: `turn-${turn}` } }],
        },
        { text: ['Counted', '.'], delayMs: 20 },
      );
    }
    const outcomes: Outcome[] = [];
    let restartedAt = Number.POSITIVE_INFINITY;
    /** Every server finished a turn that started after Redis was back. */
    const recovered = () =>
      [0, 1, 2].every((server) =>
        outcomes.some((entry) => entry.server === server && entry.result === 'done' && entry.startedAt > restartedAt),
      );
    let deadline = Date.now() + 120_000;
    const stop = () => recovered() || Date.now() > deadline;
    const clients = [0, 1, 2, 0, 1, 2].map((server) => client(server, stop, outcomes));

    // Traffic first: every server has served turns.
    const served = (server: number) => outcomes.filter((entry) => entry.server === server && entry.result === 'done');
    await until(() => [0, 1, 2].every((server) => served(server).length >= 2));
    const stoppedAt = Date.now();
    await redis.stop();
    await new Promise((resolve) => setTimeout(resolve, outage));
    await redis.start();
    restartedAt = Date.now();
    deadline = restartedAt + 30_000;
    await Promise.all(clients);

    expect(recovered()).toBe(true);
    const failed = outcomes.filter((entry) => entry.result !== 'done');
    expect(failed.length).toBeGreaterThan(0);
    for (const entry of failed) {
      expect(['store_unavailable', 'interrupted']).toContain(entry.result);
      // Each failure is about the outage: it started before Redis was back, or ended soon after.
      expect(entry.startedAt + entry.milliseconds).toBeGreaterThanOrEqual(stoppedAt);
      expect(entry.startedAt).toBeLessThan(restartedAt + bound);
    }
    for (const entry of outcomes) expect(entry.milliseconds).toBeLessThan(bound);
    const lines = (await readFile(countFile, 'utf8')).split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(3);
    expect(new Set(lines).size).toBe(lines.length);
  });
});

/** Resolves once `condition()` holds, checking as the clients report. */
async function until(condition: () => boolean) {
  const deadline = Date.now() + 60_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('the traffic did not start');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
