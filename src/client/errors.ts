import type { ErrorCode } from '../errors.js';

/** What went wrong, as the server's error code, or `network_error` when no answer came at all. */
export type ChatClientErrorCode = ErrorCode | 'network_error' | 'unexpected_response';

/**
 * An error of a request: the server's `{ error: { code, message, details } }` with its HTTP status,
 * or `network_error` (status 0) when the server could not be reached.
 */
export class ChatClientError extends Error {
  readonly code: ChatClientErrorCode;
  readonly status: number;
  readonly details?: unknown;

  constructor(code: ChatClientErrorCode, message: string, status: number, details?: unknown) {
    super(message);
    this.name = 'ChatClientError';
    this.code = code;
    this.status = status;
    this.details = details;
  }
}

/** The error a failed response carries; one that is not the server's shape keeps its status. */
export async function responseError(response: Response): Promise<ChatClientError> {
  const text = await response.text().catch(() => '');
  try {
    const { error } = JSON.parse(text) as { error: { code: ErrorCode; message: string; details?: unknown } };
    if (typeof error?.code === 'string') {
      return new ChatClientError(error.code, error.message, response.status, error.details);
    }
  } catch {}
  return new ChatClientError('unexpected_response', `HTTP ${response.status}: ${text.slice(0, 200)}`, response.status);
}

export const networkError = (cause: unknown) =>
  new ChatClientError('network_error', `The server could not be reached (${String(cause)}).`, 0, { cause });
