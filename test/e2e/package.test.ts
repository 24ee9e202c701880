import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { cleanEnvironment, startServer } from '../helpers/server-process.js';
import { projectDirectory, temporaryDirectory } from '../helpers/test-app.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

const run = promisify(execFile);
const upstream = useFakeUpstream();

const json = (body: unknown) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

interface LockEntry {
  dev?: boolean;
}

/**
 * An empty project depending on the tarball, with a lock file holding our own lock's runtime
 * packages: `npm ci --offline` then installs from the npm cache that our `npm ci` filled. (A plain
 * `npm install --offline <tarball>` needs the registry's package documents, which that cache lacks.)
 */
async function writeInstallProject(directory: string, tarball: string) {
  const ownPackage = JSON.parse(await readFile(join(projectDirectory, 'package.json'), 'utf8'));
  const ownLock = JSON.parse(await readFile(join(projectDirectory, 'package-lock.json'), 'utf8'));
  const dependencies = { 'llm-chat-server': `file:${tarball}` };
  const packages: Record<string, unknown> = { '': { dependencies } };
  for (const [path, entry] of Object.entries<LockEntry>(ownLock.packages)) {
    if (path !== '' && !entry.dev) packages[path] = entry;
  }
  packages['node_modules/llm-chat-server'] = {
    version: ownPackage.version,
    resolved: `file:${tarball}`,
    license: ownPackage.license,
    dependencies: ownPackage.dependencies,
    bin: ownPackage.bin,
    engines: ownPackage.engines,
  };
  await writeFile(join(directory, 'package.json'), JSON.stringify({ private: true, dependencies }));
  await writeFile(
    join(directory, 'package-lock.json'),
    JSON.stringify({ name: 'install', lockfileVersion: 3, requires: true, packages }),
  );
}

describe('the package as a user installs it', () => {
  it('packs, installs offline, and runs from another folder with the filesystem tools, approving a write_file', async () => {
    const work = await temporaryDirectory('llm-chat-server-package-');
    const [packed, install, folder] = ['packed', 'install', 'folder'].map((name) => join(work, name));
    await Promise.all([packed, install, folder].map((directory) => mkdir(directory)));
    const started = performance.now();
    try {
      // `npm pack` runs `prepare` (the build); incremental, it costs little when dist/ is current.
      const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', packed], {
        cwd: projectDirectory,
      });
      const [{ filename, files }] = JSON.parse(stdout) as [{ filename: string; files: { path: string }[] }];
      const paths = files.map((file) => file.path);
      expect(paths).toEqual(
        expect.arrayContaining([
          'LICENSE',
          'bin/llm-chat-server.js',
          'dist/cli/llm-chat-server.js',
          'config/servers.json',
          'dist/index.js',
          'dist/client/index.js',
          'dist/client/index.d.ts',
        ]),
      );
      expect(paths).toContain('dist/index.d.ts');
      expect(paths.filter((path) => /^(src|test)\/|tsbuildinfo/.test(path))).toEqual([]);
      const packedAt = performance.now();

      await writeInstallProject(install, join(packed, filename));
      await run('npm', ['ci', '--offline', '--no-audit', '--no-fund'], { cwd: install, env: cleanEnvironment() });
      const installedAt = performance.now();
      const installed = JSON.parse(await readFile(join(install, 'node_modules/llm-chat-server/package.json'), 'utf8'));
      expect(Object.keys(installed.dependencies)).not.toContain('tsx');
      expect(existsSync(join(install, 'node_modules/tsx'))).toBe(false);
      const library = await run(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          'const m = await import("llm-chat-server"); const c = await import("llm-chat-server/client"); console.log(typeof m.createApp, typeof c.createChatClient)',
        ],
        { cwd: install },
      );
      expect(library.stdout.trim()).toBe('function function');

      const command = [join(install, 'node_modules/.bin/llm-chat-server')];
      const server = await startServer(['--ollama-base-url', upstream.url], { cwd: folder, command });
      try {
        const state = await (await fetch(`${server.url}/session_state`)).json();
        expect(state.current_directory).toBe(folder);
        // The chat page's bundle was built into the package.
        const page = await (await fetch(server.url)).text();
        const script = /src="(\/assets\/app-\w+\.js)"/.exec(page)?.[1];
        expect(await (await fetch(`${server.url}${script}`)).text()).toContain('llm-chat-server.chats');
        expect(state.tools.map((tool: { name: string }) => tool.name)).toContain('write_file');
        // The bin runs the bundle (dist/cli): the OpenAPI layer is in it, prom-client in a chunk loaded on first use.
        expect((await (await fetch(`${server.url}/openapi.json`)).json()).paths).toHaveProperty('/user_request');
        expect(await (await fetch(`${server.url}/metrics`)).text()).toContain('llm_chat_http_requests_total');

        const writeCall = { name: 'write_file', arguments: { path: 'note.txt', content: 'written from the package' } };
        upstream.reply({ toolCalls: [writeCall] }, { text: ['Written.'] });
        const asked = await (await fetch(`${server.url}/user_request`, json({ input: 'write note.txt' }))).json();
        expect(asked).toMatchObject({ requires_approval: true, tool: { name: 'write_file', server: 'filesystem' } });
        expect(existsSync(join(folder, 'note.txt'))).toBe(false);
        const approved = await fetch(`${server.url}/approve`, json({ request_id: asked.request_id, approve: true }));
        expect(await approved.json()).toMatchObject({
          requires_approval: false,
          message: 'Written.',
          tool_calls: [{ name: 'write_file', status: 'executed' }],
        });
        expect(await readFile(join(folder, 'note.txt'), 'utf8')).toBe('written from the package');
      } finally {
        await server.stop();
      }
      expect(server.output()).toContain(`MCP servers file ${join(install, 'node_modules/llm-chat-server/config')}`);
      // libsql's prebuilt binary came with the install: sessions are kept in SQLite, the default.
      expect(server.output()).toContain('sessions: SQLite database');

      // A broken install without its servers file: the server starts without tools and says so once.
      await rm(join(install, 'node_modules/llm-chat-server/config/servers.json'));
      const broken = await startServer(['--ollama-base-url', upstream.url], { cwd: folder, command });
      try {
        const state = await (await fetch(`${broken.url}/session_state`)).json();
        expect(state.tools).toEqual([]);
      } finally {
        await broken.stop();
      }
      const warnings = broken
        .output()
        .split('\n')
        .filter((line) => line.includes(' WARN '));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain('servers.json is missing: starting without tools');
      const seconds = (from: number, to: number) => ((to - from) / 1000).toFixed(1);
      console.info(
        `package test: pack ${seconds(started, packedAt)} s, install ${seconds(packedAt, installedAt)} s, total ${seconds(started, performance.now())} s`,
      );
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }, 120_000);
});
