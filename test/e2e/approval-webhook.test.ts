import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { faultServer } from '../helpers/mcp-servers.js';
import { startServer } from '../helpers/server-process.js';
import { temporaryDirectory } from '../helpers/test-app.js';
import { useFakeUpstream } from '../helpers/use-fake-upstream.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

const upstream = useFakeUpstream();
const secret = `whsec_${randomBytes(32).toString('base64')}`;
const receivers: WebhookReceiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((receiver) => receiver.close()));
});

async function serverWithWebhook(extra: string[] = []) {
  const cwd = await temporaryDirectory();
  const serversFile = join(cwd, 'servers.json');
  await writeFile(serversFile, JSON.stringify({ mcpServers: { fault: faultServer(join(cwd, 'count.txt')) } }));
  const receiver = await startWebhookReceiver({ secret, now: Date.now });
  receivers.push(receiver);
  const server = await startServer(
    ['--ollama-base-url', upstream.url, '--servers-config', serversFile, '--store', 'memory', ...extra],
    { cwd, env: { APPROVAL_WEBHOOK: receiver.url, APPROVAL_WEBHOOK_SECRET: secret } },
  );
  const post = (path: string, body: unknown) =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).then((response) => response.json() as Promise<any>);
  return { server, receiver, post };
}

describe('the real server with --approval-webhook', () => {
  it('links to the page at the address it listens on, and its output never holds the secret', async () => {
    const { server, receiver, post } = await serverWithWebhook();
    try {
      upstream.reply({ toolCalls: [{ name: 'count', arguments: { label: 'e2e' } }] }, { text: ['Counted.'] });
      const first = await post('/user_request', { input: 'count' });
      expect(first.requires_approval).toBe(true);
      await receiver.receivedCount(1);
      const [message] = receiver.received;
      expect(message.refused).toBeUndefined();
      // As a receiver verifies it with the reference library, on the real clock.
      expect(new Webhook(secret).verify(message.body, message.headers as Record<string, string>)).toMatchObject({
        type: 'approval.requested',
      });
      const { data } = JSON.parse(message.body);
      expect(data).toMatchObject({ request_id: first.request_id, session_id: first.session_id });
      expect(data.url).toBe(`${server.url}/#${first.session_id}`);
      const done = await post('/approve', { request_id: data.request_id, approve: true });
      expect(done).toMatchObject({ requires_approval: false, message: 'Counted.' });
      expect(server.output()).toContain(
        `approval webhook: every new pending approval is POSTed to ${new URL(receiver.url).origin}`,
      );
      expect(server.output()).not.toContain(secret.slice('whsec_'.length));
    } finally {
      await server.stop();
    }
  }, 120_000);

  it('links to --public-url when it is set', async () => {
    const { server, receiver, post } = await serverWithWebhook(['--public-url', 'https://chat.example/team/']);
    try {
      upstream.reply({ toolCalls: [{ name: 'count', arguments: { label: 'public' } }] });
      const first = await post('/user_request', { input: 'count' });
      await receiver.receivedCount(1);
      expect(JSON.parse(receiver.received[0].body).data.url).toBe(`https://chat.example/team/#${first.session_id}`);
    } finally {
      await server.stop();
    }
  }, 120_000);
});
