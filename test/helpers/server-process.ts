import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll } from 'vitest';

/** Node's arguments to run the Node entry from the sources, compiled on load by tsx (`npm run dev`; `npm start` runs the build). */
export const nodeEntry = [
  '--import',
  pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href,
  fileURLToPath(new URL('../../src/entry/node.ts', import.meta.url)),
];
/** Bun, from the `bun` devDependency, and the Bun entry. */
export const bunPath = fileURLToPath(new URL('../../node_modules/.bin/bun', import.meta.url));
export const bunEntry = fileURLToPath(new URL('../../src/entry/bun.ts', import.meta.url));

const dataDirectories: string[] = [];
afterAll(async () => {
  await Promise.all(dataDirectories.splice(0).map((directory) => rm(directory, { recursive: true, force: true })));
});

/** A fresh, empty directory for a server's session database, removed after the test file. */
export function temporaryDataDirectory(): string {
  const directory = mkdtempSync(join(tmpdir(), 'llm-chat-server-data-'));
  dataDirectories.push(directory);
  return directory;
}

/**
 * Environment for a child server: the machine's, less anything that would configure it, with a
 * data directory of its own (`DATA_DIR`), so that no test server opens the real home's database
 * or another server's; `extra` may name one.
 */
export function cleanEnvironment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(LLM_|OPENAI_|OLLAMA_|PORT$|HOST$|AUTH_TOKEN$|STREAM$|TEMPERATURE$|STORE$|DATA_DIR$|REDIS_URL$)/.test(key)) {
      env[key] = value;
    }
  }
  return { ...env, DATA_DIR: temporaryDataDirectory(), ...extra };
}

/**
 * Starts the real server (its Node entry, from the sources) on an ephemeral port and
 * resolves once it logs where it listens (`command`: another executable, such as an installed package's
 * bin). `output()` is everything it wrote so far.
 */
export async function startServer(
  args: string[],
  options: { cwd: string; env?: Record<string, string>; runtime?: 'node' | 'bun'; command?: string[] },
) {
  const [command, ...entry] =
    options.command ??
    (options.runtime === 'bun' ? [bunPath, '--no-env-file', bunEntry] : [process.execPath, ...nodeEntry]);
  const child: ChildProcess = spawn(command, [...entry, '--port', '0', ...args], {
    cwd: options.cwd,
    env: cleanEnvironment(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 15_000);
    const check = () => {
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stderr?.on('data', check);
    child.on('exit', (code) => reject(new Error(`server exited with ${code}:\n${output}`)));
  });
  return {
    url,
    output: () => output,
    /** Stops the server (`SIGKILL`: dies at once, as in a crash) and resolves once it exited. */
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.on('exit', resolve));
      child.kill(signal);
      await exited;
    },
    /** Ends the server as a crash would (SIGKILL): no shutdown code runs. */
    kill() {
      return this.stop('SIGKILL');
    },
  };
}

/** Runs the real entry to its exit, for start-up failures: its exit code and stderr. */
export function runToExit(
  args: string[],
  options: { cwd: string; env?: Record<string, string>; runtime?: 'node' | 'bun' },
): Promise<{ code: number | null; stderr: string }> {
  const [command, ...entry] =
    options.runtime === 'bun' ? [bunPath, '--no-env-file', bunEntry] : [process.execPath, ...nodeEntry];
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...entry, '--port', '0', ...args], {
      cwd: options.cwd,
      env: cleanEnvironment(options.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stdout?.resume();
    child.stderr?.on('data', (chunk) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the server did not exit:\n${stderr}`));
    }, 15_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}
