import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { Webhook } from 'standardwebhooks';

/** How far a message's timestamp may be from the receiver's clock: the reference libraries' 5 minutes. */
const toleranceSeconds = 5 * 60;

export type Verdict = { ok: true } | { ok: false; reason: string };

const header = (headers: IncomingHttpHeaders | Record<string, string>, name: string) => {
  const value = (headers as Record<string, string | string[] | undefined>)[name];
  return Array.isArray(value) ? value[0] : value;
};

/**
 * Checks a message as the Standard Webhooks specification says a receiver must: the three headers,
 * a timestamp within the tolerance of `nowSeconds`, and a `v1` signature (one of those listed,
 * space-separated) equal in constant time to the one the reference library (`standardwebhooks`)
 * computes for `<id>.<timestamp>.<raw body>`. The library's own `verify` reads the real clock;
 * this takes the test's, so that retries on a manual clock are checked too.
 */
export function verifyStandardWebhook(
  secret: string,
  headers: IncomingHttpHeaders | Record<string, string>,
  body: string,
  nowSeconds: number,
): Verdict {
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestamp || !signatures) return { ok: false, reason: 'missing headers' };
  const seconds = Number.parseInt(timestamp, 10);
  if (Number.isNaN(seconds)) return { ok: false, reason: 'invalid timestamp' };
  if (nowSeconds - seconds > toleranceSeconds) return { ok: false, reason: 'timestamp too old' };
  if (seconds > nowSeconds + toleranceSeconds) return { ok: false, reason: 'timestamp too new' };
  const expected = Buffer.from(new Webhook(secret).sign(id, new Date(seconds * 1000), body).split(',')[1]);
  for (const versioned of signatures.split(' ')) {
    const [version, signature] = versioned.split(',');
    if (version !== 'v1' || signature === undefined) continue;
    const given = Buffer.from(signature);
    if (given.length === expected.length && timingSafeEqual(given, expected)) return { ok: true };
  }
  return { ok: false, reason: 'no matching signature' };
}

/** What a receiver answers a verified message: a status, or nothing at all (the request hangs). */
export type Answer = number | 'hang';

export interface ReceivedMessage {
  headers: IncomingHttpHeaders;
  body: string;
  /** Why it was refused (400), or undefined when it verified. */
  refused?: string;
  /** The status it got; undefined while it hangs. */
  status?: number;
}

/**
 * A webhook receiver on 127.0.0.1, as a careful one is written: it verifies every message
 * (`verifyStandardWebhook`, with `now` as its clock), refuses a message id it has already processed
 * (the spec's idempotency key), and answers verified ones as `answers` says, one per message in
 * order (then 200). Only a message answered 2xx counts as processed, so a retry is taken.
 */
export async function startWebhookReceiver(options: { secret: string; now: () => number; answers?: Answer[] }) {
  const answers = [...(options.answers ?? [])];
  const processed = new Set<string>();
  const received: ReceivedMessage[] = [];
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const arrived = () => {
    for (const waiter of waiters.filter((candidate) => received.length >= candidate.count)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  };
  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const message: ReceivedMessage = { headers: request.headers, body: Buffer.concat(chunks).toString('utf8') };
    received.push(message);
    const verdict = verifyStandardWebhook(
      options.secret,
      request.headers,
      message.body,
      Math.floor(options.now() / 1000),
    );
    const id = header(request.headers, 'webhook-id') ?? '';
    if (!verdict.ok || processed.has(id)) {
      message.refused = verdict.ok ? 'replayed' : verdict.reason;
      message.status = 400;
      response.writeHead(400).end(message.refused);
      arrived();
      return;
    }
    const answer = answers.shift() ?? 200;
    arrived();
    if (answer === 'hang') return;
    message.status = answer;
    if (answer >= 200 && answer < 300) processed.add(id);
    response.writeHead(answer).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/hooks/approvals`,
    received,
    /** Resolves once `count` messages in all have arrived (and been verified). */
    receivedCount(count: number): Promise<void> {
      return new Promise((resolve) => {
        waiters.push({ count, resolve });
        arrived();
      });
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export type WebhookReceiver = Awaited<ReturnType<typeof startWebhookReceiver>>;
