import { existsSync } from 'node:fs';
import { readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'libsql';
import { describe, expect, it } from 'vitest';
import { defaultDataDirectory } from '../../src/node/open-sqlite-store.js';
import { createSqliteStore } from '../../src/store/sqlite-store.js';
import { runToExit, startServer, temporaryDataDirectory } from '../helpers/server-process.js';
import { temporaryDirectory } from '../helpers/test-app.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

const upstream = useFakeUpstream();
// Each test starts real servers, compiled from the sources at start-up: seconds each on a busy machine.
const serverTimeout = 60_000;

const startSession = async (url: string) => {
  const response = await fetch(`${url}/start_session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ temperature: 0.3 }),
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { session_id: string }).session_id;
};

const lines = (stderr: string) => stderr.split('\n').filter((line) => line.trim() !== '');
const mode = async (path: string) => (await stat(path)).mode & 0o777;

describe('the session database of the Node server (--store sqlite, the default)', { timeout: serverTimeout }, () => {
  it('creates its data directory 0700 and its files 0600, and keeps sessions and the default across a crash', async () => {
    const cwd = await temporaryDirectory();
    const dataDirectory = join(temporaryDataDirectory(), 'nested', 'data');
    const args = ['--ollama-base-url', upstream.url, '--data-dir', dataDirectory];
    const first = await startServer(args, { cwd });
    let sessionId: string;
    try {
      sessionId = await startSession(first.url);
      expect(first.output()).toContain(`sessions: SQLite database ${join(dataDirectory, 'sessions.db')}`);
      expect(await mode(dataDirectory)).toBe(0o700);
      const files = await readdir(dataDirectory);
      expect(files).toContain('sessions.db');
      for (const file of files) expect(await mode(join(dataDirectory, file)), file).toBe(0o600);
    } finally {
      await first.kill();
    }

    const second = await startServer(args, { cwd });
    try {
      const state = await fetch(`${second.url}/session_state?session_id=${sessionId}`);
      expect(state.status).toBe(200);
      expect(await state.json()).toMatchObject({ session_id: sessionId, temperature: 0.3 });
      const fallback = await (await fetch(`${second.url}/session_state`)).json();
      expect(fallback.session_id).toBe(sessionId);
    } finally {
      await second.stop();
    }
  });

  it('with --store memory, keeps nothing across a restart and creates no data directory', async () => {
    const cwd = await temporaryDirectory();
    const dataDirectory = join(temporaryDataDirectory(), 'unused');
    const args = ['--ollama-base-url', upstream.url, '--store', 'memory', '--data-dir', dataDirectory];
    const first = await startServer(args, { cwd });
    const sessionId = await startSession(first.url).finally(() => first.stop());
    expect(first.output()).toContain('sessions: in memory (--store memory');
    const second = await startServer(args, { cwd });
    try {
      expect((await fetch(`${second.url}/session_state?session_id=${sessionId}`)).status).toBe(404);
    } finally {
      await second.stop();
    }
    expect(existsSync(dataDirectory)).toBe(false);
  });

  it('refuses to start a second server on the same data directory, and the first goes on', async () => {
    const cwd = await temporaryDirectory();
    const dataDirectory = temporaryDataDirectory();
    const first = await startServer(['--ollama-base-url', upstream.url, '--data-dir', dataDirectory], { cwd });
    try {
      const { code, stderr } = await runToExit(['--data-dir', dataDirectory], { cwd });
      expect(code).toBe(2);
      expect(lines(stderr)).toEqual([
        `llm-chat-server: cannot open the session database ${join(dataDirectory, 'sessions.db')}: the data directory is in use by another llm-chat-server process (SQLITE_BUSY).`,
      ]);
      expect((await fetch(`${first.url}/health`)).status).toBe(200);
      await startSession(first.url);
    } finally {
      await first.stop();
    }
  });

  it('exits 2 with one line naming the file when sessions.db is not a database', async () => {
    const dataDirectory = temporaryDataDirectory();
    const path = join(dataDirectory, 'sessions.db');
    await writeFile(path, 'these are not the bytes of a SQLite database\n'.repeat(200));
    const { code, stderr } = await runToExit(['--data-dir', dataDirectory], { cwd: await temporaryDirectory() });
    expect(code).toBe(2);
    expect(lines(stderr)).toEqual([
      `llm-chat-server: cannot open the session database ${path}: the file is not a SQLite database (SQLITE_NOTADB).`,
    ]);
  });

  it('exits 2 with one line naming it when --data-dir is a regular file', async () => {
    const file = join(temporaryDataDirectory(), 'a-file');
    await writeFile(file, 'not a directory');
    const { code, stderr } = await runToExit(['--data-dir', file], { cwd: await temporaryDirectory() });
    expect(code).toBe(2);
    expect(lines(stderr)).toEqual([`llm-chat-server: the data directory ${file} is not a directory (--data-dir).`]);
  });

  it('exits 2 naming the schema version when a newer server wrote the database', async () => {
    const dataDirectory = temporaryDataDirectory();
    const path = join(dataDirectory, 'sessions.db');
    const database = new Database(path);
    createSqliteStore({ database });
    database.exec('PRAGMA user_version = 7');
    database.close();
    const { code, stderr } = await runToExit(['--data-dir', dataDirectory], { cwd: await temporaryDirectory() });
    expect(code).toBe(2);
    expect(lines(stderr)).toEqual([
      `llm-chat-server: cannot open the session database ${path}: the database has schema version 7, written by a newer llm-chat-server (this one knows up to 2).`,
    ]);
  });
});

describe('the default data directory', { timeout: serverTimeout }, () => {
  it('is $XDG_DATA_HOME/llm-chat-server, else ~/.local/share/llm-chat-server', () => {
    expect(defaultDataDirectory({ XDG_DATA_HOME: '/data' }, '/home/ada')).toBe('/data/llm-chat-server');
    expect(defaultDataDirectory({}, '/home/ada')).toBe('/home/ada/.local/share/llm-chat-server');
    // The XDG specification ignores a relative path, and an empty variable is unset.
    expect(defaultDataDirectory({ XDG_DATA_HOME: 'data' }, '/home/ada')).toBe('/home/ada/.local/share/llm-chat-server');
    expect(defaultDataDirectory({ XDG_DATA_HOME: '' }, '/home/ada')).toBe('/home/ada/.local/share/llm-chat-server');
  });

  it('is where the server keeps sessions when no --data-dir is named', async () => {
    const home = temporaryDataDirectory();
    const server = await startServer(['--ollama-base-url', upstream.url], {
      cwd: await temporaryDirectory(),
      env: { DATA_DIR: '', XDG_DATA_HOME: '', HOME: home },
    });
    try {
      await startSession(server.url);
    } finally {
      await server.stop();
    }
    expect(existsSync(join(home, '.local/share/llm-chat-server/sessions.db'))).toBe(true);
  });
});
