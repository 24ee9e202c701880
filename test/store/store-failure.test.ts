import { join } from 'node:path';
import Database from 'libsql';
import { afterAll, describe, expect, it } from 'vitest';
import { createSqliteStore } from '../../src/store/sqlite-store.js';
import { buildTestApp, temporaryDirectory } from '../helpers/test-app.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

// A save that fails in the middle of a request (the disk is full: SQLite's max_page_count reached),
// through the whole app on a real SQLite file.
const upstream = useFakeUpstream();
const databases: Database.Database[] = [];
afterAll(() => {
  for (const database of databases) database.close();
});

async function appOnSqlite() {
  const database = new Database(join(await temporaryDirectory('store-failure-'), 'sessions.db'));
  databases.push(database);
  database.exec('PRAGMA journal_mode = WAL');
  const store = createSqliteStore({ database });
  const built = await buildTestApp(upstream, {}, { dependencies: { store } });
  const pages = () => (database.prepare('PRAGMA page_count').get() as { page_count: number }).page_count;
  return {
    ...built,
    /** No room for any page more: the next save that grows the file fails. */
    fill: () => database.exec(`PRAGMA max_page_count = ${pages()}`),
    free: () => database.exec('PRAGMA max_page_count = 1000000'),
  };
}

describe('a session save that fails mid-request', () => {
  it('fails the request with 503 store_unavailable, and nothing of it is saved', async () => {
    const t = await appOnSqlite();
    const started = (await (await t.post('/start_session', {})).json()) as any;
    const id = started.session_id;
    upstream.reply({ text: ['First answer.'] });
    expect(await (await t.post('/user_request', { input: 'one', session_id: id })).json()).toMatchObject({
      message: 'First answer.',
    });
    const before = (await (await t.app.request(`/session_state?session_id=${id}`)).json()) as any;

    t.fill();
    const calls = upstream.chatRequests().length;
    const failed = await t.post('/user_request', { input: 'x'.repeat(100_000), session_id: id });
    expect(failed.status).toBe(503);
    const body = (await failed.json()) as any;
    expect(body.error).toMatchObject({ code: 'store_unavailable', message: expect.stringContaining('full') });
    expect(JSON.stringify(body)).not.toContain('xxxx');
    // The turn's start could not be saved: the model was not asked.
    expect(upstream.chatRequests()).toHaveLength(calls);

    const after = (await (await t.app.request(`/session_state?session_id=${id}`)).json()) as any;
    expect(after.messages).toEqual(before.messages);
    expect(after.status).toBe('idle');

    // With room again the session goes on where it was.
    t.free();
    upstream.reply({ text: ['Second answer.'] });
    expect(await (await t.post('/user_request', { input: 'two', session_id: id })).json()).toMatchObject({
      message: 'Second answer.',
    });
  });
});
