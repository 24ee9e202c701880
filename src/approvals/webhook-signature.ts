const prefix = 'whsec_';
const base64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** The Standard Webhooks specification asks for 24 to 64 random bytes; fewer are refused. */
const minimumBytes = 24;

/** What is wrong with a Standard Webhooks signing secret (`whsec_` and base64), or undefined. Never quotes it. */
export function webhookSecretProblem(secret: string): string | undefined {
  if (!secret.startsWith(prefix) || !base64.test(secret.slice(prefix.length))) {
    return `must be ${prefix} followed by base64 (make one with \`openssl rand -base64 32\` and put ${prefix} before it)`;
  }
  if (atob(secret.slice(prefix.length)).length < minimumBytes) {
    return `must hold at least ${minimumBytes} random bytes after ${prefix} (32 base64 characters)`;
  }
  return undefined;
}

/**
 * Signs messages as the Standard Webhooks specification says: HMAC-SHA256, keyed with the
 * base64-decoded part of the `whsec_` secret, over `<webhook-id>.<webhook-timestamp>.<body>`, sent as
 * `v1,<base64 signature>`. WebCrypto only, so it runs on Node, Bun and Workers alike.
 */
export function createWebhookSigner(secret: string) {
  const raw = atob(secret.slice(prefix.length));
  let key: Promise<CryptoKey> | undefined;
  const encoder = new TextEncoder();
  return {
    /** The `webhook-signature` header of `body` sent as message `id` at `timestamp` (Unix seconds). */
    async sign(id: string, timestamp: number, body: string): Promise<string> {
      key ??= crypto.subtle.importKey(
        'raw',
        Uint8Array.from(raw, (character) => character.charCodeAt(0)),
        { name: 'HMAC', hash: 'SHA-256' },
        false,
        ['sign'],
      );
      const signature = await crypto.subtle.sign('HMAC', await key, encoder.encode(`${id}.${timestamp}.${body}`));
      return `v1,${btoa(String.fromCharCode(...new Uint8Array(signature)))}`;
    },
  };
}
