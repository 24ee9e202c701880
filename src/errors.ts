/**
 * The one error type the core throws. `code` is the stable snake_case string clients match on;
 * `status` is the HTTP status it maps to; `details` is optional structured context that is safe
 * to show a client (never a secret, never a stack trace).
 */
export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details?: unknown;

  constructor(status: number, code: string, message: string, details?: unknown) {
    super(message);
    this.name = 'AppError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** The wire body of every error, in JSON responses and SSE `error` events alike. */
export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

export function errorBody(error: AppError): ErrorBody {
  const body: ErrorBody = { error: { code: error.code, message: error.message } };
  if (error.details !== undefined) body.error.details = error.details;
  return body;
}

/** Anything thrown that is not an AppError becomes a generic 500 without its message or stack. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  return new AppError(500, 'internal_error', 'The server failed to handle this request; see its log.');
}
