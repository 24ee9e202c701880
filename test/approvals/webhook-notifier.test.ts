import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { PendingApproval } from '../../src/approvals/approval-notifier.js';
import { createWebhookNotifier, pageAddress } from '../../src/approvals/webhook-notifier.js';
import { createWebhookSigner, webhookSecretProblem } from '../../src/approvals/webhook-signature.js';
import { createLogger } from '../../src/logger.js';
import { closedPort } from '../helpers/closed-port.js';
import { createManualClock } from '../helpers/manual-clock.js';
import { type Answer, startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

const secret = `whsec_${randomBytes(32).toString('base64')}`;

const approval: PendingApproval = {
  sessionId: 'session-1',
  requestId: 'request-1',
  tool: { name: 'write_file', server: 'filesystem' },
  arguments: { path: 'notes.txt', content: 'hello' },
  createdAt: Date.UTC(2026, 0, 1),
  expiresAt: Date.UTC(2026, 0, 1, 1),
};

/** A manual clock that also tells when a timer of some delay has been set (a retry's wait, an attempt's deadline). */
function watchedClock() {
  const clock = createManualClock(approval.createdAt);
  const set: number[] = [];
  const waiters: Array<() => void> = [];
  const after = clock.after;
  clock.after = (delay, task) => {
    const cancel = after(delay, task);
    set.push(delay);
    for (const wake of waiters.splice(0)) wake();
    return cancel;
  };
  /** Resolves once `count` timers of `delay` have been set in all. */
  const timersSet = async (delay: number, count = 1) => {
    while (set.filter((each) => each === delay).length < count) await new Promise<void>((wake) => waiters.push(wake));
  };
  return Object.assign(clock, { timersSet });
}

const receivers: WebhookReceiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((receiver) => receiver.close()));
});

async function setup(options: { answers?: Answer[]; url?: string; maxDeliveries?: number } = {}) {
  const clock = watchedClock();
  const receiver = await startWebhookReceiver({ secret, now: clock.now, answers: options.answers });
  receivers.push(receiver);
  const logs: string[] = [];
  const logger = createLogger({ level: 'debug', write: (line) => logs.push(line), secrets: [] });
  const notifier = createWebhookNotifier({
    url: options.url ?? receiver.url,
    secret,
    pageUrl: () => 'https://chat.example/',
    clock,
    logger,
    maxDeliveries: options.maxDeliveries,
  });
  return { clock, receiver, logs, notifier };
}

describe('the signature', () => {
  it("is the Standard Webhooks reference libraries' own for their published example", async () => {
    // The "sign function works" case of the JavaScript and Go libraries of standard-webhooks.
    const signer = createWebhookSigner('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
    expect(await signer.sign('msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')).toBe(
      'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    );
  });

  it('needs a whsec_ secret of base64 holding 24 bytes or more, and never quotes it', () => {
    expect(webhookSecretProblem(secret)).toBeUndefined();
    expect(webhookSecretProblem('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')).toBeUndefined();
    for (const bad of ['MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'whsec_', 'whsec_not base64!!', 'whsec_c2hvcnQ=']) {
      const problem = webhookSecretProblem(bad);
      expect(problem, bad).toMatch(/whsec_/);
      expect(problem).not.toContain(bad.slice(6) || '\u0000');
    }
  });
});

describe('a notification', () => {
  it('is one signed POST that a receiver verifying as the spec says accepts, with the approval in its body', async () => {
    const { clock, receiver, notifier } = await setup();
    notifier.pending(approval);
    await receiver.receivedCount(1);
    const [message] = receiver.received;
    expect(message.refused).toBeUndefined();
    expect(message.status).toBe(200);
    expect(message.headers['content-type']).toBe('application/json');
    expect(message.headers['webhook-id']).toMatch(/^msg_[A-Za-z0-9]+$/);
    expect(message.headers['webhook-timestamp']).toBe(String(Math.floor(clock.now() / 1000)));
    expect(JSON.parse(message.body)).toEqual({
      type: 'approval.requested',
      timestamp: '2026-01-01T00:00:00.000Z',
      data: {
        request_id: 'request-1',
        session_id: 'session-1',
        tool: { name: 'write_file', server: 'filesystem' },
        arguments: { path: 'notes.txt', content: 'hello' },
        created_at: '2026-01-01T00:00:00.000Z',
        expires_at: '2026-01-01T01:00:00.000Z',
        url: 'https://chat.example/#session-1',
      },
    });
  });

  it('cannot be replayed: the same message again, an old one, or a changed body is refused', async () => {
    const { clock, receiver, notifier } = await setup();
    notifier.pending(approval);
    await receiver.receivedCount(1);
    const [message] = receiver.received;
    expect(message.status).toBe(200);
    const resend = (headers: Record<string, string>, body: string, to = receiver) =>
      fetch(to.url, { method: 'POST', headers, body });
    const headers = Object.fromEntries(
      ['content-type', 'webhook-id', 'webhook-timestamp', 'webhook-signature'].map((name) => [
        name,
        String(message.headers[name]),
      ]),
    );

    expect((await resend(headers, message.body)).status).toBe(400);
    expect(receiver.received[1].refused).toBe('replayed');
    expect((await resend(headers, message.body.replace('notes.txt', 'other.txt'))).status).toBe(400);
    expect(receiver.received[2].refused).toBe('no matching signature');

    // A receiver that never saw it, five minutes and a second later, refuses it as too old.
    await clock.advance(301_000);
    const fresh = await startWebhookReceiver({ secret, now: clock.now });
    receivers.push(fresh);
    expect((await resend(headers, message.body, fresh)).status).toBe(400);
    expect(fresh.received[0].refused).toBe('timestamp too old');
  });

  it('after a 500 is sent again 1 s, then 5 s later, with its id kept and a fresh timestamp and signature', async () => {
    const { clock, receiver, notifier, logs } = await setup({ answers: [500, 503, 200] });
    notifier.pending(approval);
    await receiver.receivedCount(1);
    await clock.timersSet(1000);
    await clock.advance(999);
    expect(receiver.received).toHaveLength(1);
    await clock.advance(1);
    await receiver.receivedCount(2);
    await clock.timersSet(5000);
    await clock.advance(5000);
    await receiver.receivedCount(3);
    await clock.advance(120_000);

    expect(receiver.received.map((message) => message.status)).toEqual([500, 503, 200]);
    expect(receiver.received.map((message) => message.refused)).toEqual([undefined, undefined, undefined]);
    const ids = new Set(receiver.received.map((message) => message.headers['webhook-id']));
    expect(ids.size).toBe(1);
    const start = Math.floor(approval.createdAt / 1000);
    expect(receiver.received.map((message) => Number(message.headers['webhook-timestamp']))).toEqual([
      start,
      start + 1,
      start + 6,
    ]);
    expect(new Set(receiver.received.map((message) => message.headers['webhook-signature'])).size).toBe(3);
    expect(receiver.received.map((message) => message.body)).toEqual(Array(3).fill(receiver.received[0].body));
    // Two failures within a minute: one line.
    expect(logs.filter((line) => line.includes('approval webhook'))).toHaveLength(1);
  });

  it('gives up after four attempts (1 s, 5 s, 25 s apart)', async () => {
    const { clock, receiver, notifier } = await setup({ answers: [500, 500, 500, 500, 500] });
    notifier.pending(approval);
    for (const [count, delay] of [
      [1, 1000],
      [2, 5000],
      [3, 25_000],
    ]) {
      await receiver.receivedCount(count);
      await clock.timersSet(delay);
      await clock.advance(delay);
    }
    await receiver.receivedCount(4);
    await notifier.idle();
    expect(receiver.received).toHaveLength(4);
    expect(clock.timers).toBe(0);
  });

  it.each<[Answer, number]>([
    [400, 1],
    [404, 1],
    [410, 1],
    [302, 1],
    [408, 2],
    [429, 2],
  ])('answered %s is sent %s time(s) in all', async (status, attempts) => {
    const { clock, receiver, notifier } = await setup({ answers: [status, 200] });
    notifier.pending(approval);
    await receiver.receivedCount(1);
    if (attempts === 2) {
      await clock.timersSet(1000);
      await clock.advance(1000);
      await receiver.receivedCount(2);
    }
    await notifier.idle();
    expect(receiver.received.map((message) => message.status)).toEqual([status, 200].slice(0, attempts));
  });

  it('to a receiver that does not answer is abandoned after 10 s and sent again', async () => {
    const { clock, receiver, notifier, logs } = await setup({ answers: ['hang', 200] });
    notifier.pending(approval);
    await receiver.receivedCount(1);
    await clock.advance(10_000);
    await clock.timersSet(1000);
    await clock.advance(1000);
    await receiver.receivedCount(2);
    expect(receiver.received[1].status).toBe(200);
    expect(logs.join('\n')).toContain('no answer within 10 s');
  });

  it('to a receiver that is down is retried, and the failure logged with the origin only', async () => {
    const url = `http://127.0.0.1:${await closedPort()}/secret-path/token`;
    const { clock, notifier, logs } = await setup({ url });
    notifier.pending(approval);
    await clock.timersSet(1000);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toContain(`notifying ${new URL(url).origin} failed (ECONNREFUSED); will retry`);
    expect(logs[0]).not.toContain('secret-path');
  });
});

describe('failures', () => {
  it('are logged at most once a minute, counting those not logged, and never with the secret', async () => {
    const { clock, receiver, notifier, logs } = await setup({ answers: Array(12).fill(400) });
    for (let index = 0; index < 3; index++) notifier.pending({ ...approval, requestId: `request-${index}` });
    await notifier.idle();
    await clock.advance(59_999);
    for (let index = 3; index < 6; index++) notifier.pending({ ...approval, requestId: `request-${index}` });
    await notifier.idle();
    expect(receiver.received).toHaveLength(6);
    expect(logs).toHaveLength(1);
    await clock.advance(1);
    notifier.pending({ ...approval, requestId: 'request-6' });
    await notifier.idle();
    expect(logs).toHaveLength(2);
    expect(logs[1]).toContain('"failures_not_logged":5');
    expect(logs[1]).toContain('gave up');
    for (const line of logs) {
      expect(line).not.toContain(secret);
      expect(line).not.toContain(secret.slice('whsec_'.length));
    }
  });

  it('past 1000 notifications still being delivered, new ones are dropped (and logged)', async () => {
    const { receiver, notifier, logs } = await setup({ answers: ['hang', 'hang'], maxDeliveries: 2 });
    notifier.pending(approval);
    notifier.pending({ ...approval, requestId: 'request-2' });
    notifier.pending({ ...approval, requestId: 'request-3' });
    await receiver.receivedCount(2);
    expect(receiver.received).toHaveLength(2);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toContain('this one is dropped');
  });
});

describe('the link to the page', () => {
  it.each([
    ['http://127.0.0.1:8000', 'http://127.0.0.1:8000/'],
    ['https://chat.example/', 'https://chat.example/'],
    ['https://example.com/chat', 'https://example.com/chat/'],
    ['https://example.com/chat//?x=1#y', 'https://example.com/chat/'],
    ['http://[::1]:8000', 'http://[::1]:8000/'],
  ])('of %s is %s#<session id>', (base, page) => {
    expect(pageAddress(base)).toBe(page);
  });
});
