import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createHold } from '../helpers/fake-upstream.js';
import { faultServer, servers } from '../helpers/mcp-servers.js';
import { openStream, parseSse } from '../helpers/sse.js';
import { buildTestApp, closeToolProviders, temporaryDirectory } from '../helpers/test-app.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

// Finding 12: followers that never read must not hold the turn's output in memory without bound,
// and one session must not take unlimited followers.

const upstream = useFakeUpstream({ each: true });
afterAll(() => closeToolProviders());

const limit = 4096;
const tokens = Array.from({ length: 300 }, (_, index) => `${String(index).padStart(3, '0')} ${'x'.repeat(60)} `);

async function waitingTurn(maxFollowers: number) {
  const countFile = join(await temporaryDirectory('backpressure-'), 'count.txt');
  const built = await buildTestApp(
    upstream,
    { maxStreamBufferBytes: limit, maxFollowers },
    { servers: servers({ fault: faultServer(countFile) }) },
  );
  // Straight to the app: the test app's request() also reads a copy of every body, which would
  // hide a stalled reader.
  const request = (path: string, init: RequestInit = {}) =>
    built.app.fetch(new Request(`http://localhost${path}`, init));
  // A token per upstream read (the pause is the model's pace, not synchronisation): the stream's
  // backlog grows write by write, as it does behind a client that stopped reading.
  upstream.reply({ toolCalls: [{ name: 'count', arguments: { label: 'once' } }] }, { text: tokens, delayMs: 1 });
  const first = openStream(
    await request('/user_request', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: 'count', stream: true }),
    }),
  );
  await first.until((text) => text.includes('event: approval_required'));
  const approval = parseSse(first.text()).find((event) => event.event === 'approval_required');
  return { ...built, request, first, approval: approval as NonNullable<typeof approval> };
}

describe('event streams under backpressure (finding 12)', () => {
  it('a follower past --max-followers gets 409 too_many_followers; the others follow', async () => {
    const { request, first } = await waitingTurn(3);
    const followers = [await request('/events'), await request('/events')];
    expect(followers.map((response) => response.status)).toEqual([200, 200]);
    const refused = await request('/events');
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as any).error.code).toBe('too_many_followers');
    await Promise.all([first.cancel(), ...followers.map((response) => response.body?.cancel())]);
  });

  it('followers that stop reading are dropped once --max-stream-buffer-bytes wait; the turn goes on and a resume gets all of it', async () => {
    const { request, post, first, approval } = await waitingTurn(16);
    const stalled = await Promise.all(Array.from({ length: 5 }, () => request('/events')));
    expect(stalled.map((response) => response.status)).toEqual([200, 200, 200, 200, 200]);

    const decided = await post('/approve', { request_id: approval.data.request_id, approve: true });
    expect(decided.status).toBe(202);
    // Resumed after the approval: follows the continuation live, to its end.
    const resumed = await request('/events', { headers: { 'last-event-id': approval.id } });
    const events = parseSse(await resumed.text());
    const done = events.at(-1);
    expect(done?.event).toBe('done');
    expect(done?.data.message).toBe(tokens.join(''));
    expect(events.filter((event) => event.event === 'token')).toHaveLength(tokens.length);

    // Each stalled follower was cut, its unread frames dropped: it cannot read the ~30 KB turn.
    for (const response of stalled) await expect(response.text()).rejects.toThrow(/bytes unsent/);
    await expect(first.rest()).rejects.toThrow(/bytes unsent/);
  });

  it('200 followers that never read, over 10 sessions: every one is dropped, every turn finishes', async () => {
    const { app } = await buildTestApp(upstream, { maxStreamBufferBytes: limit, maxFollowers: 21 });
    const request = (path: string, init: RequestInit = {}) => app.fetch(new Request(`http://localhost${path}`, init));
    const holds = Array.from({ length: 10 }, () => createHold(1));
    for (const hold of holds) upstream.reply({ text: tokens, delayMs: 1, holds: [hold] });
    const sessions: string[] = [];
    for (let index = 0; index < 10; index += 1) {
      const started = await request('/start_session', { method: 'POST' });
      sessions.push(((await started.json()) as any).session_id);
    }
    const answers = await Promise.all(
      sessions.map((session_id) =>
        request('/user_request', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ input: 'talk', session_id, stream: true }),
        }),
      ),
    );
    await Promise.all(holds.map((hold) => hold.reached));
    const stalled = await Promise.all(
      sessions.flatMap((session) => Array.from({ length: 20 }, () => request(`/events?session_id=${session}`))),
    );
    expect(stalled.filter((response) => response.status === 200)).toHaveLength(200);
    for (const hold of holds) hold.release();
    const texts = await Promise.all(answers.map((answer) => answer.text()));
    for (const text of texts) expect(parseSse(text).at(-1)?.data.message).toBe(tokens.join(''));
    const outcomes = await Promise.allSettled(stalled.map((response) => response.text()));
    expect(outcomes.filter((outcome) => outcome.status === 'rejected')).toHaveLength(200);
  });

  it('a replay of a long finished turn costs no memory per stream that does not read', async () => {
    const { app } = await buildTestApp(upstream);
    const request = (path: string, init: RequestInit = {}) => app.fetch(new Request(`http://localhost${path}`, init));
    const long = Array.from({ length: 1000 }, (_, index) => `${String(index).padStart(4, '0')} ${'y'.repeat(1000)} `);
    upstream.reply({ text: long });
    const answer = await request('/user_request', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: 'a lot', stream: true }),
    });
    expect(parseSse(await answer.text()).at(-1)?.data.message).toBe(long.join(''));
    const before = process.memoryUsage().arrayBuffers;
    const replays = await Promise.all(
      Array.from({ length: 50 }, () => request('/events', { headers: { 'last-event-id': '1.0' } })),
    );
    expect(replays.map((response) => response.status)).toEqual(Array(50).fill(200));
    await new Promise<void>((resolve) => setImmediate(resolve));
    // Each holds at most one queue's worth (64 KiB) encoded, not the turn's 2 MB (100 MB for 50).
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(50 * 128 * 1024);
    const [one] = replays;
    expect(parseSse(await one.text()).at(-1)?.data.message).toBe(long.join(''));
    await Promise.all(replays.slice(1).map((response) => response.body?.cancel()));
  });
});
