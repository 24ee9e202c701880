import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { ApprovalNotifier } from '../../src/approvals/approval-notifier.js';
import { createWebhookNotifier, type WebhookNotifier } from '../../src/approvals/webhook-notifier.js';
import { createLogger } from '../../src/logger.js';
import { createMemoryStore } from '../../src/store/memory-store.js';
import type { SessionStore } from '../../src/store/session-store.js';
import { closedPort } from '../helpers/closed-port.js';
import { createManualClock } from '../helpers/manual-clock.js';
import { faultServer, servers } from '../helpers/mcp-servers.js';
import { openStream, parseSse } from '../helpers/sse.js';
import { buildTestApp, closeToolProviders, temporaryDirectory } from '../helpers/test-app.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';
import { type Answer, startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

const upstream = useFakeUpstream({ each: true });
afterAll(async () => {
  await closeToolProviders();
});

const secret = `whsec_${randomBytes(32).toString('base64')}`;
const receivers: WebhookReceiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((receiver) => receiver.close()));
});

const countCall = (label: string) => ({ name: 'count', arguments: { label } });

/**
 * The app with the fault MCP server ("count" asks for approval) and a real webhook notifier sending
 * to a receiver on 127.0.0.1 (or to `url`), both on one manual clock. `order` records when a
 * pending call's save completed and when the notifier was told of it.
 */
async function setup(options: { url?: string; answers?: Answer[] } = {}) {
  const clock = createManualClock();
  const countFile = join(await temporaryDirectory('webhook-count-'), 'count.txt');
  const logs: string[] = [];
  const logger = createLogger({ level: 'debug', write: (line) => logs.push(line) });
  const receiver = await startWebhookReceiver({ secret, now: clock.now, answers: options.answers });
  receivers.push(receiver);
  const notifier: WebhookNotifier = createWebhookNotifier({
    url: options.url ?? receiver.url,
    secret,
    pageUrl: () => 'http://chat.test/',
    clock,
    logger,
  });
  const order: string[] = [];
  const memory = createMemoryStore({ now: clock.now });
  const store: SessionStore = {
    ...memory,
    async put(record, putOptions) {
      await memory.put(record, putOptions);
      for (const call of record.turn?.tool_calls ?? []) {
        const saved = `saved ${call.request_id} pending`;
        if (call.status === 'pending' && !order.includes(saved)) order.push(saved);
      }
    },
  };
  const approvalNotifier: ApprovalNotifier = {
    pending(approval) {
      order.push(`notified ${approval.requestId}`);
      notifier.pending(approval);
    },
  };
  const built = await buildTestApp(
    upstream,
    {},
    {
      servers: servers({ fault: faultServer(countFile) }),
      dependencies: { clock, store, approvalNotifier, newRequestId: sequence('r') },
    },
  );
  const json = async (response: Response) => {
    expect(response.status, await response.clone().text()).toBe(200);
    return response.json() as Promise<any>;
  };
  return { ...built, clock, receiver, notifier, order, webhookLogs: logs, json };
}

function sequence(prefix: string) {
  let next = 0;
  return () => `${prefix}${++next}`;
}

describe('the approval webhook', () => {
  it('POSTs each new pending call once, after it is saved; the message is all an approver needs', async () => {
    const t = await setup();
    upstream.reply({ text: ['Counting twice.'], toolCalls: [countCall('one'), countCall('two')] }, { text: ['Done.'] });
    const first = await t.json(await t.post('/user_request', { input: 'count twice' }));
    expect(first.requires_approval).toBe(true);
    await t.receiver.receivedCount(2);

    expect(t.order).toEqual(['saved r2 pending', 'saved r3 pending', 'notified r2', 'notified r3']);
    const messages = t.receiver.received.map((message) => JSON.parse(message.body));
    expect(t.receiver.received.map((message) => message.refused)).toEqual([undefined, undefined]);
    const created = new Date(t.clock.now()).toISOString();
    const expires = new Date(t.clock.now() + t.config.approvalTtl).toISOString();
    expect(messages.sort((a, b) => a.data.request_id.localeCompare(b.data.request_id))).toEqual(
      ['one', 'two'].map((label, index) => ({
        type: 'approval.requested',
        timestamp: created,
        data: {
          request_id: `r${index + 2}`,
          session_id: first.session_id,
          tool: { name: 'count', server: 'fault' },
          arguments: { label },
          created_at: created,
          expires_at: expires,
          url: `http://chat.test/#${first.session_id}`,
        },
      })),
    );

    for (const message of messages) {
      const { session_id, request_id } = message.data;
      await t.json(await t.post('/approve', { session_id, request_id, approve: true }));
    }
    const state = await t.json(await t.app.request(`/session_state?session_id=${first.session_id}`));
    expect(JSON.stringify(state)).toContain('Done.');
    await t.notifier.idle();
    expect(t.receiver.received).toHaveLength(2);
  });

  it('sends nothing for calls that need no approval', async () => {
    const t = await setup();
    upstream.reply({ toolCalls: [{ name: 'echo_unknown_tool', arguments: {} }] }, { text: ['No such tool.'] });
    const answer = await t.json(await t.post('/user_request', { input: 'use a tool that does not exist' }));
    expect(answer).toMatchObject({ requires_approval: false, message: 'No such tool.' });
    await t.notifier.idle();
    expect(t.receiver.received).toHaveLength(0);
  });

  it.each([
    ['is down', 'down'],
    ['does not answer', 'hang'],
  ] as const)(
    'never holds the turn up while the receiver %s: approval_required comes, approving works',
    async (_, mode) => {
      const url = mode === 'down' ? `http://127.0.0.1:${await closedPort()}/hooks` : undefined;
      const t = await setup({ url, answers: ['hang'] });
      upstream.reply({ text: ['Counting.'], toolCalls: [countCall('held')] }, { text: ['Counted anyway.'] });
      const stream = openStream(await t.post('/user_request', { input: 'count', stream: true }));
      await stream.until((text) => text.includes('event: approval_required'));
      if (mode === 'hang') await t.receiver.receivedCount(1);
      const decision = await t.post('/approve', { request_id: 'r2', approve: true });
      expect(decision.status).toBe(202);
      const events = parseSse(await stream.rest());
      expect(events.at(-1)).toMatchObject({
        event: 'done',
        data: { message: 'Counted anyway.', requires_approval: false },
      });
      expect(events.find((event) => event.event === 'tool_result')?.data).toMatchObject({ status: 'executed' });
      // The delivery is still being tried: the turn did not wait for it.
      let delivered = false;
      void t.notifier.idle().then(() => {
        delivered = true;
      });
      await new Promise((resolve) => setImmediate(resolve));
      expect(delivered).toBe(false);
      if (mode === 'down') {
        expect(t.webhookLogs).toHaveLength(1);
        expect(t.webhookLogs[0]).toContain('failed (ECONNREFUSED); will retry');
      }
      for (const line of t.webhookLogs) expect(line).not.toContain(secret.slice('whsec_'.length));
    },
  );
});
