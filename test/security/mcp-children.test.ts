import { type FSWatcher, readdirSync, watch } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { createStdioStarter } from '../../src/node/stdio-transport.js';
import { createMcpToolProvider } from '../../src/tools/mcp-tool-provider.js';
import { servers } from '../helpers/mcp-servers.js';
import { temporaryDirectory } from '../helpers/test-app.js';

const pidServer = fileURLToPath(new URL('../tools/pid-server.mjs', import.meta.url));

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The pids of every child the pid servers reported in `directory`. */
const reported = (directory: string) => readdirSync(directory).map(Number);

const spawned: number[] = [];
let watcher: FSWatcher | undefined;
afterAll(() => {
  watcher?.close();
  for (const pid of spawned) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
});

it('30 concurrent listings for new directories, three times: live stdio children never exceed the cap, and none outlive close()', async () => {
  const cap = 8;
  const pidDirectory = await temporaryDirectory('mcp-pids-');
  const warnings: string[] = [];
  const logger = createLogger({
    level: 'warn',
    write: (line) => warnings.push(line),
  });
  const provider = createMcpToolProvider({
    servers: servers({ pid: { command: process.execPath, args: [pidServer], env: { PID_DIRECTORY: pidDirectory } } }),
    variables: {},
    startStdio: createStdioStarter(logger),
    logger,
    version: '0.0.0-test',
    maxConnections: cap,
  });

  // Sampled each time a child announces itself: the only moments the number of children can grow.
  let most = 0;
  const live = () => reported(pidDirectory).filter(isAlive).length;
  watcher = watch(pidDirectory, () => {
    most = Math.max(most, live());
  });

  const perWave: number[] = [];
  for (let wave = 0; wave < 3; wave++) {
    const directories = await Promise.all(Array.from({ length: 30 }, () => temporaryDirectory('mcp-session-')));
    const listings = await Promise.all(directories.map((directory) => provider.list(directory)));
    perWave.push(live());
    most = Math.max(most, live());
    const served = listings.filter((tools) => tools.some((tool) => tool.name === 'pid')).length;
    expect(served).toBeGreaterThan(0);
  }
  spawned.push(...reported(pidDirectory));
  console.info(
    `live children after each wave: ${perWave.join(', ')}; most at once: ${most}; started: ${spawned.length}`,
  );
  expect(most).toBeLessThanOrEqual(cap);
  expect(warnings.some((line) => line.includes('connections'))).toBe(true);

  await provider.close();
  await vi.waitFor(() => expect(live()).toBe(0), { timeout: 10_000, interval: 50 });
}, 120_000);
