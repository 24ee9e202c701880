import { type ChildProcess, spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { closedPort } from '../helpers/closed-port.js';
import { cleanEnvironment, nodeEntry } from '../helpers/server-process.js';
import { temporaryDirectory } from '../helpers/test-app.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

const upstream = useFakeUpstream();
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode !== null) continue;
    const exited = new Promise((resolve) => child.on('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
});

/** The real server (as `npm start` runs it); `until(text)` resolves with its stderr once it holds `text`. */
async function start(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [...nodeEntry, '--port', '0', ...args], {
    cwd: await temporaryDirectory(),
    env: cleanEnvironment(env),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  const waiters = new Set<() => void>();
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
    for (const check of waiters) check();
  });
  const until = (text: string) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "${text}" within 15 s:\n${stderr}`)), 15_000);
      const check = () => {
        if (!stderr.includes(text)) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(stderr);
      };
      child.on('exit', (code) => reject(new Error(`exited with ${code} before "${text}":\n${stderr}`)));
      waiters.add(check);
      check();
    });
  const url = /listening on (http:\/\/\S+)/.exec(await until('listening on'))?.[1] as string;
  const stderrLines = () => stderr.split('\n').filter(Boolean);
  return { url, until, stderrLines };
}

describe('start-up checks of the real server', { timeout: 60_000 }, () => {
  it('says in one line that Ollama is not running, and /health is degraded but answers 200', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const server = await start(['--ollama-base-url', url]);
    const stderr = await server.until('start it with `ollama serve`');
    const lines = stderr.split('\n').filter((line) => line.includes('ollama serve'));
    expect(lines).toEqual([
      expect.stringMatching(
        new RegExp(
          `WARN Ollama is not reachable at ${url}/: start it with \`ollama serve\`, or use --provider openai$`,
        ),
      ),
    ]);
    const health = await fetch(`${server.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'degraded', upstream: 'unreachable' });
  });

  it('says which model to pull when Ollama runs without it', async () => {
    const server = await start(['--ollama-base-url', upstream.url, '--model', 'llama3.2']);
    await server.until('ollama pull');
    expect(server.stderrLines().filter((line) => line.includes('WARN Ollama'))).toEqual([
      expect.stringMatching(/WARN Ollama at .* has no model "llama3\.2": run `ollama pull llama3\.2`$/),
    ]);
    expect(upstream.requests.map((request) => request.path)).toEqual(
      expect.arrayContaining(['/api/version', '/api/tags']),
    );
  });

  it('warns of nothing about the LLM when the model is pulled, and says it is reachable', async () => {
    const server = await start(['--ollama-base-url', upstream.url, '--model', 'qwen2.5-coder']);
    await server.until('the ollama LLM is reachable');
    expect(server.stderrLines().filter((line) => /ollama (serve|pull)|no API key/.test(line))).toEqual([]);
    expect(await (await fetch(`${server.url}/health`)).json()).toMatchObject({ status: 'ok', upstream: 'reachable' });
    // The probe goes through node:http, not Node's fetch (which sends `sec-fetch-mode`): fetch's HTTP
    // parser, a few MiB, is built at the first chat, not at start-up.
    const probes = upstream.requests.filter((request) => request.path === '/api/version');
    expect(probes.length).toBeGreaterThan(0);
    expect(probes.map((request) => request.headers['sec-fetch-mode'])).toEqual(probes.map(() => undefined));
  });

  it('warns when a remote OpenAI-compatible API has no key, and not when the API is local', async () => {
    // 0.0.0.0 is not a loopback name, yet a connection to it stays on this machine (and is refused).
    const port = await closedPort();
    const remote = await start(['--provider', 'openai', '--openai-base-url', `http://0.0.0.0:${port}/v1`]);
    await remote.until('no API key');
    expect(remote.stderrLines().filter((line) => line.includes('no API key'))).toEqual([
      expect.stringMatching(
        new RegExp(`WARN no API key for http://0.0.0.0:${port}/v1: set LLM_API_KEY \\(or --api-key\\)$`),
      ),
    ]);
    const local = await start(['--provider', 'openai', '--openai-base-url', upstream.openaiUrl]);
    await local.until('the openai LLM is reachable');
    expect(local.stderrLines().filter((line) => line.includes('no API key'))).toEqual([]);
  });

  it('warns when the system prompt and tools take over half the context window, naming both and the flag', async () => {
    const server = await start(['--ollama-base-url', upstream.url, '--context-window-size', '2048']);
    const stderr = await server.until('--context-window-size');
    const line = stderr.split('\n').find((entry) => entry.includes('--context-window-size')) as string;
    expect(line).toMatch(
      /WARN the system prompt and tool definitions take about \d+ tokens \(\d+ \+ \d+\) of a 2048-token context window/,
    );
    const used = Number(/about (\d+) tokens/.exec(line)?.[1]);
    expect(used).toBeGreaterThan(1024);

    // The default window (8192) leaves room for the default filesystem tools: a plain start does not warn.
    const roomy = await start(['--ollama-base-url', upstream.url]);
    await roomy.until('the ollama LLM is reachable');
    // The tools are listed before the context check; listing them again waits for that.
    await fetch(`${roomy.url}/session_state`);
    expect(roomy.stderrLines().filter((entry) => entry.includes('--context-window-size'))).toEqual([]);
  });
});
