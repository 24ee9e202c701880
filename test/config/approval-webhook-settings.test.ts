import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { optionNames } from '../../src/config/schema.js';
import { loadConfig } from '../../src/node/load-config.js';
import { runToExit } from '../helpers/server-process.js';
import { temporaryDirectory } from '../helpers/test-app.js';

const secret = `whsec_${randomBytes(32).toString('base64')}`;

const load = (argv: string[], env: Record<string, string> = {}) =>
  loadConfig({
    argv,
    env,
    cwd: '/srv/app',
    readEnvFile: () => {
      throw new Error('no .env here');
    },
  });

function failure(argv: string[], env: Record<string, string> = {}): string {
  const loaded = load(argv, env);
  if (loaded.kind !== 'error') throw new Error(`expected an error, got ${JSON.stringify(loaded)}`);
  return loaded.message;
}

describe('the approval webhook settings', () => {
  it('are --approval-webhook, --approval-webhook-secret and --public-url, or their env variables', () => {
    expect(optionNames.approvalWebhook).toEqual({ flag: 'approval-webhook', env: 'APPROVAL_WEBHOOK' });
    expect(optionNames.approvalWebhookSecret).toEqual({
      flag: 'approval-webhook-secret',
      env: 'APPROVAL_WEBHOOK_SECRET',
    });
    expect(optionNames.publicUrl).toEqual({ flag: 'public-url', env: 'PUBLIC_URL' });
    const loaded = load([], {
      APPROVAL_WEBHOOK: 'https://hooks.example/approvals',
      APPROVAL_WEBHOOK_SECRET: secret,
      PUBLIC_URL: 'https://chat.example',
    });
    expect(loaded).toMatchObject({
      kind: 'config',
      config: {
        approvalWebhook: 'https://hooks.example/approvals',
        approvalWebhookSecret: secret,
        publicUrl: 'https://chat.example',
      },
    });
    const off = load([]);
    expect(off.kind === 'config' && [off.config.approvalWebhook, off.config.publicUrl]).toEqual([undefined, undefined]);
  });

  it('refuse a webhook URL that is not http(s), naming the flag', () => {
    for (const url of ['ftp://hooks.example/x', 'file:///etc/passwd', 'hooks.example/x', 'javascript:alert(1)']) {
      expect(failure(['--approval-webhook', url, '--approval-webhook-secret', secret])).toMatch(
        /^--approval-webhook: must be an http:\/\/ or https:\/\/ URL/,
      );
    }
    expect(failure(['--public-url', 'ws://chat.example'])).toMatch(/^--public-url: must be an http/);
  });

  it('need a secret with a webhook: Standard Webhooks messages are always signed', () => {
    expect(failure(['--approval-webhook', 'https://hooks.example/x'])).toMatch(
      /^--approval-webhook-secret: is required with the approval webhook/,
    );
  });

  it('refuse a secret that is not whsec_ and base64 of 24 bytes or more, without quoting it', () => {
    for (const bad of [
      randomBytes(32).toString('base64'),
      `whsec_${randomBytes(16).toString('base64')}`,
      'whsec_not-base64-at-all-but-long-enough',
    ]) {
      const message = failure(['--approval-webhook', 'https://hooks.example/x'], { APPROVAL_WEBHOOK_SECRET: bad });
      expect(message).toMatch(/^APPROVAL_WEBHOOK_SECRET: must/);
      expect(message).not.toContain(bad.replace('whsec_', ''));
    }
  });

  it('need --public-url when the server listens on every address: 0.0.0.0 is no link', () => {
    const argv = ['--approval-webhook', 'https://hooks.example/x', '--approval-webhook-secret', secret];
    expect(failure([...argv, '--host', '0.0.0.0', '--auth-token', 't'])).toMatch(/^--public-url: is required/);
    expect(load([...argv, '--host', '0.0.0.0', '--auth-token', 't', '--public-url', 'https://chat.example']).kind).toBe(
      'config',
    );
    expect(load([...argv, '--host', '192.168.1.5', '--auth-token', 't']).kind).toBe('config');
  });

  it('a webhook URL that is not http(s) stops the real entry with exit 2 and one line naming the flag', async () => {
    const { code, stderr } = await runToExit(
      ['--approval-webhook', 'ftp://hooks.example/x', '--approval-webhook-secret', secret],
      { cwd: await temporaryDirectory() },
    );
    expect(code).toBe(2);
    expect(stderr.trimEnd().split('\n')).toEqual([
      'llm-chat-server: --approval-webhook: must be an http:// or https:// URL (got "ftp://hooks.example/x").',
    ]);
  }, 60_000);
});
