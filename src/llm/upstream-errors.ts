import { AppError } from '../errors.js';
import type { Provider } from './provider.js';

/** Shortens an upstream error text and removes any secret from it, so it is safe to show. */
export function summarise(text: string, secrets: Array<string | undefined>): string {
  let summary = text.replace(/\s+/g, ' ').trim();
  for (const secret of secrets) if (secret) summary = summary.replaceAll(secret, '[redacted]');
  return summary.length > 300 ? `${summary.slice(0, 297)}...` : summary;
}

/** The LLM answered with an error (HTTP status, or an error inside a 200 stream). */
function upstreamError(provider: Provider, status: number | undefined, message: string): AppError {
  const shown = status ? `${status}` : 'an error mid-stream';
  return new AppError('upstream_error', `The ${provider} LLM answered with ${shown}: ${message}`, {
    provider,
    status: status ?? null,
    message,
  });
}

/** A URL as safe to show: no user, password, query or fragment. */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

function upstreamUnavailable(provider: Provider, baseUrl: string): AppError {
  return new AppError(
    'upstream_unavailable',
    `Could not connect to the ${provider} LLM at ${displayUrl(baseUrl)}; check that it is running and the base URL is right.`,
    { provider },
  );
}

function upstreamTimeout(provider: Provider, milliseconds: number): AppError {
  return new AppError(
    'upstream_timeout',
    `The ${provider} LLM sent nothing for ${milliseconds / 1000}s; raise --upstream-timeout for slow models.`,
    { provider },
  );
}

/**
 * The failures of one provider's calls, each as the `AppError` clients see: messages summarised
 * and cleared of `secrets`, the base URL shown without credentials.
 */
export function upstreamFailures(provider: Provider, baseUrl: string, secrets: Array<string | undefined>) {
  return {
    /** The LLM answered with an error: an HTTP status, or an error inside the stream (no status). */
    answered: (status: number | undefined, message: string) =>
      upstreamError(provider, status, summarise(message, secrets)),
    /** The answer stopped in a way the wire format does not allow; `what` says how. */
    malformed: (what: string) => upstreamError(provider, undefined, what),
    /** The connection failed: before any byte the LLM is unreachable, after one the answer broke. */
    connectionFailed: (received: boolean) =>
      received
        ? upstreamError(provider, undefined, 'the connection broke mid-answer')
        : upstreamUnavailable(provider, baseUrl),
    timedOut: (milliseconds: number) => upstreamTimeout(provider, milliseconds),
  };
}

/**
 * An abort signal for one upstream call that fires when `parent` aborts or when no byte came for
 * `timeoutMilliseconds`. `touch()` on every chunk only stores a time: the one timer re-arms itself
 * lazily, so the per-chunk cost is a single assignment.
 */
export function createIdleWatchdog(timeoutMilliseconds: number, parent: AbortSignal) {
  const controller = new AbortController();
  let last = Date.now();
  let timedOut = false;
  const onParentAbort = () => controller.abort(parent.reason);
  const check = () => {
    const idle = Date.now() - last;
    if (idle >= timeoutMilliseconds) {
      timedOut = true;
      controller.abort(new Error('upstream idle timeout'));
    } else {
      timer = setTimeout(check, timeoutMilliseconds - idle);
    }
  };
  let timer = setTimeout(check, timeoutMilliseconds);
  if (parent.aborted) onParentAbort();
  else parent.addEventListener('abort', onParentAbort, { once: true });
  return {
    signal: controller.signal,
    touch() {
      last = Date.now();
    },
    get timedOut() {
      return timedOut;
    },
    dispose() {
      clearTimeout(timer);
      parent.removeEventListener('abort', onParentAbort);
    },
  };
}
