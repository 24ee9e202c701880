import { describe, expect, it } from 'vitest';
import { maxUnsavedEvents } from '../../src/chat/turn-channels.js';
import { openRedisStore } from '../../src/node/open-redis-store.js';
import { closedPort } from '../helpers/closed-port.js';
import { createHold } from '../helpers/fake-upstream.js';
import { useRedisServer } from '../helpers/redis-server.js';
import { runToExit, startServer } from '../helpers/server-process.js';
import { openStream, parseSse } from '../helpers/sse.js';
import { temporaryDirectory } from '../helpers/test-app.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';

// The real server on --store redis, against a real redis-server that asks for a password.
const password = 'redis-password-3c9e1f';
const redis = useRedisServer({ password });
const upstream = useFakeUpstream();

const post = (url: string, path: string, body: unknown) =>
  fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

describe.each(['node', 'bun'] as const)('the server on --store redis, on %s', { timeout: 120_000 }, (runtime) => {
  it('keeps sessions, their history and the default session across a crash, and never logs the password', async () => {
    const cwd = await temporaryDirectory();
    // The URL from the environment, as a deployment would pass it.
    const start = () =>
      startServer(['--ollama-base-url', upstream.url, '--store', 'redis'], {
        cwd,
        runtime,
        env: { REDIS_URL: redis.url },
      });
    const first = await start();
    let sessionId: string;
    try {
      const started = await post(first.url, '/start_session', { temperature: 0.3 });
      expect(started.status).toBe(201);
      sessionId = ((await started.json()) as { session_id: string }).session_id;
      upstream.reply({ text: ['Kept in Redis.'] });
      const answered = await post(first.url, '/user_request', { input: 'remember this', session_id: sessionId });
      expect(await answered.json()).toMatchObject({ message: 'Kept in Redis.' });
      expect(first.output()).toContain(
        `sessions: Redis at redis://:***@127.0.0.1:${redis.port} (they survive restarts)`,
      );
    } finally {
      await first.kill();
    }

    const second = await start();
    try {
      const state = (await (await fetch(`${second.url}/session_state`)).json()) as any;
      expect(state).toMatchObject({ session_id: sessionId, temperature: 0.3, status: 'idle' });
      expect(state.messages.slice(-2)).toMatchObject([
        { role: 'user', content: 'remember this' },
        { role: 'assistant', content: 'Kept in Redis.' },
      ]);
    } finally {
      await second.stop();
    }
    expect(first.output() + second.output()).not.toContain(password);
  });

  it('exits 2 with one line naming the address when Redis cannot be reached', async () => {
    const port = await closedPort();
    const { code, stderr } = await runToExit(
      ['--store', 'redis', '--redis-url', `redis://:${password}@127.0.0.1:${port}`],
      {
        cwd: await temporaryDirectory(),
        runtime,
      },
    );
    expect(code).toBe(2);
    expect(stderr).toBe(
      `llm-chat-server: cannot connect to Redis at redis://:***@127.0.0.1:${port}: the connection failed (ECONNREFUSED).\n`,
    );
  });
});

describe('a crash in the middle of a streaming turn, on --store redis', { timeout: 120_000 }, () => {
  it('is recovered once its lease is gone: a resume replays the log, then interrupted; the answer so far is kept', async () => {
    const cwd = await temporaryDirectory();
    const start = () =>
      startServer(['--ollama-base-url', upstream.url, '--store', 'redis', '--redis-url', redis.url], { cwd });
    let server = await start();
    const probe = await openRedisStore({ url: redis.url });
    try {
      // More tokens than may wait unsaved: the first ones are in the log when the client has them all.
      const words = Array.from({ length: maxUnsavedEvents + 20 }, (_, index) => `w${index} `);
      upstream.reply({ text: [...words, 'never sent'], holds: [createHold(words.length)] });
      // A session of its own: the default one may still be held by a server an earlier test killed.
      const { session_id } = (await (await post(server.url, '/start_session', {})).json()) as { session_id: string };
      const stream = openStream(await post(server.url, '/user_request', { input: 'talk', session_id, stream: true }));
      const lastWord = words.at(-1) as string;
      const seen = parseSse(await stream.until((text) => text.includes(JSON.stringify(lastWord)), 15_000));
      const sessionId = seen[0].data.session_id;

      // What the client has may not all be in Redis yet (a write is on its way): the test waits
      // until the log has what it relies on, more events than may wait unsaved.
      await until(async () => ((await probe.store.events?.read(sessionId, 1, -1)) ?? []).length > maxUnsavedEvents);
      await server.kill();
      server = await start();
      // Until the dead server's lease expires the turn is followed as running elsewhere; then it ends.
      const resumed = await fetch(`${server.url}/events?session_id=${sessionId}`, {
        headers: { 'last-event-id': seen[1].id as string },
      });
      const replay = parseSse(await resumed.text());
      expect(replay.slice(0, 3).map((event) => event.data.content)).toEqual(['w1 ', 'w2 ', 'w3 ']);
      expect(replay.at(-1)).toMatchObject({ event: 'error', data: { error: { code: 'interrupted' } } });
      expect(replay.filter((event) => event.event === 'error')).toHaveLength(1);

      const state = (await (await fetch(`${server.url}/session_state?session_id=${sessionId}`)).json()) as any;
      expect(state).toMatchObject({ status: 'idle' });
      expect(state.messages.at(-1)).toMatchObject({ role: 'assistant' });
      expect(state.messages.at(-1).content).toContain('[interrupted');
      upstream.reply({ text: ['Going on.'] });
      const next = await post(server.url, '/user_request', { input: 'again', session_id: sessionId });
      expect(await next.json()).toMatchObject({ message: 'Going on.' });
    } finally {
      await server.stop();
      await probe.close();
    }
  });
});

/** Resolves once `condition()` holds, asking again after each answer. */
async function until(condition: () => Promise<boolean>) {
  const deadline = Date.now() + 15_000;
  while (!(await condition())) if (Date.now() > deadline) throw new Error('the condition never held');
}
