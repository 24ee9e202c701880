import { type ChildProcess, spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll } from 'vitest';
import { closedPort } from './closed-port.js';
import { temporaryDirectory } from './test-app.js';

/** Debian's redis-server (`.ci/run` installs it when missing). */
export const redisServerPath = '/usr/bin/redis-server';

export interface RedisServerOptions {
  password?: string;
  persist?: boolean;
}

export interface RedisServer {
  /** `redis://127.0.0.1:<port>` (with the password, when one is required). */
  readonly url: string;
  readonly port: number;
  /** Ends the server (SIGKILL by default: as in a crash) and resolves once it exited. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /**
   * Starts it again on the same port and directory after `stop` (its data is gone unless it was
   * started with `persist`); else does nothing.
   */
  start(): Promise<void>;
  /** Freezes the process (SIGSTOP): connections stay open, nothing is answered. */
  pause(): void;
  /** Lets a paused server go on (SIGCONT). */
  resume(): void;
  /** What it wrote since it was last started. */
  output(): string;
}

/**
 * Starts a real redis-server on a free loopback port with a directory of its own, saving nothing
 * (`--save ''`, `--appendonly no`), and resolves once it logs that it accepts connections. Not a
 * system-wide Redis: each test file runs its own. `password` sets `--requirepass`; `persist` keeps
 * every write in an append-only file synced at once, so that the data outlives even a SIGKILL.
 */
export async function startRedisServer(
  options: RedisServerOptions = {},
): Promise<RedisServer & { close(): Promise<void> }> {
  const directory = await temporaryDirectory('redis-');
  const credentials = options.password ? `:${encodeURIComponent(options.password)}@` : '';
  const persistence = options.persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  const settings = ['--bind', '127.0.0.1', '--dir', directory, '--save', '', ...persistence];
  if (options.password) settings.push('--requirepass', options.password);
  let port = 0;
  let child: ChildProcess | undefined;
  let output = '';

  const start = () =>
    new Promise<void>((resolve, reject) => {
      const started = spawn(redisServerPath, ['--port', String(port), ...settings], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = started;
      const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${output}`)), 15_000);
      const read = (chunk: Buffer) => {
        output += chunk;
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      };
      started.stdout?.on('data', read);
      started.stderr?.on('data', read);
      started.on('error', (error) => {
        clearTimeout(timer);
        reject(
          new Error(`cannot run ${redisServerPath} (${(error as NodeJS.ErrnoException).code}); install redis-server`),
        );
      });
      started.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with ${code}:\n${output}`));
      });
    });

  // The port was free a moment ago; another process may take it first: then another one.
  for (let attempt = 1; ; attempt += 1) {
    port = await closedPort();
    try {
      await start();
      break;
    } catch (error) {
      if (attempt === 3) throw error;
    }
  }
  const server = {
    url: `redis://${credentials}127.0.0.1:${port}`,
    port,
    async stop(signal: NodeJS.Signals = 'SIGKILL') {
      const running = child;
      if (!running || running.exitCode !== null || running.signalCode !== null) return;
      const exited = new Promise((resolve) => running.on('exit', resolve));
      running.kill('SIGCONT');
      running.kill(signal);
      await exited;
    },
    async start() {
      if (child && child.exitCode === null && child.signalCode === null) return;
      output = '';
      await start();
    },
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    output: () => output,
    async close() {
      await server.stop();
      await rm(directory, { recursive: true, force: true });
    },
  };
  return server;
}

/**
 * Registers the hooks that start one Redis server before the file's tests and stop it (and remove
 * its directory) after. Returns a handle to it; use it only inside tests and hooks.
 */
export function useRedisServer(options: RedisServerOptions = {}): RedisServer {
  let current: Awaited<ReturnType<typeof startRedisServer>> | undefined;
  beforeAll(async () => {
    current = await startRedisServer(options);
  });
  afterAll(async () => {
    await current?.close();
    current = undefined;
  });
  return new Proxy({} as RedisServer, {
    get(_target, key) {
      if (!current) throw new Error('the Redis server is used outside a test: it is not started');
      const value = current[key as keyof RedisServer];
      return typeof value === 'function' ? value.bind(current) : value;
    },
  });
}
