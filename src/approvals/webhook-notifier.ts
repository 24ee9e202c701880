import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { ApprovalNotifier, PendingApproval } from './approval-notifier.js';
import { createWebhookSigner } from './webhook-signature.js';

export interface WebhookNotifierOptions {
  /** Where each notification is POSTed (http or https). */
  url: string;
  /** The Standard Webhooks signing secret: `whsec_` and base64. */
  secret: string;
  /** The chat page's address (see `pageAddress`): a notification links to `<page>#<session id>`. */
  pageUrl: () => string;
  clock: Clock;
  logger: Logger;
  fetch?: typeof fetch;
  /** A new message id (`webhook-id`), one per notification, kept across its retries. */
  newMessageId?: () => string;
  /** The waits before each retry (milliseconds); default 1 s, 5 s, 25 s: four attempts in all. */
  retryDelays?: readonly number[];
  /** How long one attempt may take before it counts as failed (milliseconds); default 10 s. */
  attemptTimeout?: number;
  /** Notifications still being delivered (retries included) past which new ones are dropped; default 1000. */
  maxDeliveries?: number;
}

/** The page at `base` (a public URL or the listen address): its path with a trailing `/`, no query or fragment. */
export function pageAddress(base: string): string {
  const url = new URL(base);
  return `${url.origin}${url.pathname.replace(/\/*$/, '/')}`;
}

export interface WebhookNotifier extends ApprovalNotifier {
  /** Resolves once no notification is being delivered (waits between retries included). */
  idle(): Promise<void>;
}

type Attempt = { kind: 'delivered' } | { kind: 'failed'; reason: string; retry: boolean };

/** Failures are logged at most this often; the ones in between are counted in the next line. */
const logInterval = 60_000;

/** 408 and 429 say "later"; any other 4xx (and a 3xx: redirects are not followed) will not change. */
const retried = (status: number) => status >= 500 || status === 408 || status === 429;

/** Where a failure came from, for the log: the cause's error code when fetch has one. */
function failureOf(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown } }).cause;
  if (typeof cause?.code === 'string') return cause.code;
  return error instanceof Error ? error.name : 'network error';
}

/**
 * Notifications as Standard Webhooks messages: a signed JSON POST per pending approval
 * (`approval.requested`), retried with backoff on network errors, timeouts, 408, 429 and 5xx.
 * Delivery runs on its own; failures are logged at most once a minute and name only the URL's
 * origin (a webhook's path is often its credential); the secret is never logged.
 */
export function createWebhookNotifier(options: WebhookNotifierOptions): WebhookNotifier {
  const { clock, logger } = options;
  const send = options.fetch ?? fetch;
  const signer = createWebhookSigner(options.secret);
  const delays = options.retryDelays ?? [1000, 5000, 25_000];
  const attemptTimeout = options.attemptTimeout ?? 10_000;
  const maxDeliveries = options.maxDeliveries ?? 1000;
  const newMessageId = options.newMessageId ?? (() => `msg_${crypto.randomUUID().replace(/-/g, '')}`);
  const origin = new URL(options.url).origin;
  const delivering = new Set<Promise<void>>();
  let lastLogged = Number.NEGATIVE_INFINITY;
  let unlogged = 0;

  const report = (approval: PendingApproval, reason: string, retry: boolean) => {
    const now = clock.now();
    if (now - lastLogged < logInterval) {
      unlogged += 1;
      return;
    }
    const outcome = retry ? 'will retry' : 'gave up';
    logger.warn(`approval webhook: notifying ${origin} failed (${reason}); ${outcome}`, {
      request_id: approval.requestId,
      session_id: approval.sessionId,
      ...(unlogged > 0 ? { failures_not_logged: unlogged } : {}),
    });
    lastLogged = now;
    unlogged = 0;
  };

  const wait = (delay: number) => new Promise<void>((resolve) => clock.after(delay, resolve));

  const attempt = async (id: string, body: string): Promise<Attempt> => {
    const timestamp = Math.floor(clock.now() / 1000);
    const signature = await signer.sign(id, timestamp, body);
    const controller = new AbortController();
    const cancel = clock.after(attemptTimeout, () => controller.abort());
    try {
      const response = await send(options.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signature,
        },
        body,
        redirect: 'manual',
        signal: controller.signal,
      });
      await response.body?.cancel().catch(() => undefined);
      if (response.ok) return { kind: 'delivered' };
      return { kind: 'failed', reason: `HTTP ${response.status}`, retry: retried(response.status) };
    } catch (error) {
      const reason = controller.signal.aborted ? `no answer within ${attemptTimeout / 1000} s` : failureOf(error);
      return { kind: 'failed', reason, retry: true };
    } finally {
      cancel();
    }
  };

  const deliver = async (approval: PendingApproval) => {
    const id = newMessageId();
    const body = JSON.stringify({
      type: 'approval.requested',
      timestamp: new Date(approval.createdAt).toISOString(),
      data: {
        request_id: approval.requestId,
        session_id: approval.sessionId,
        tool: approval.tool,
        arguments: approval.arguments,
        created_at: new Date(approval.createdAt).toISOString(),
        expires_at: new Date(approval.expiresAt).toISOString(),
        url: `${options.pageUrl()}#${approval.sessionId}`,
      },
    });
    for (let retries = 0; ; retries += 1) {
      const outcome = await attempt(id, body);
      if (outcome.kind === 'delivered') return;
      const again = outcome.retry && retries < delays.length;
      report(approval, outcome.reason, again);
      if (!again) return;
      await wait(delays[retries]);
    }
  };

  return {
    pending(approval) {
      if (delivering.size >= maxDeliveries) {
        report(approval, `${maxDeliveries} notifications are still being delivered; this one is dropped`, false);
        return;
      }
      const delivery = deliver(approval)
        .catch((error: unknown) => report(approval, failureOf(error), false))
        .finally(() => delivering.delete(delivery));
      delivering.add(delivery);
    },
    async idle() {
      while (delivering.size > 0) await Promise.all(delivering);
    },
  };
}
