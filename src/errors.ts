/**
 * Every error code the server sends, with the HTTP status it answers with. Clients match on the
 * code; the status follows from it, so the two can never disagree.
 */
export const errorStatuses = {
  invalid_request: 400,
  invalid_session_id: 400,
  conflicting_session_id: 400,
  session_required: 400,
  model_not_allowed: 400,
  unauthorized: 401,
  forbidden_host: 403,
  forbidden_origin: 403,
  approver_token_required: 403,
  directory_not_allowed: 403,
  not_found: 404,
  unknown_session: 404,
  unknown_request: 404,
  method_not_allowed: 405,
  turn_in_progress: 409,
  approval_pending: 409,
  already_decided: 409,
  no_turn_running: 409,
  too_many_followers: 409,
  session_conflict: 409,
  approval_expired: 410,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  client_closed_request: 499,
  internal_error: 500,
  configuration_error: 500,
  not_implemented: 501,
  upstream_error: 502,
  upstream_unavailable: 503,
  too_many_sessions: 503,
  store_unavailable: 503,
  interrupted: 503,
  upstream_timeout: 504,
} as const;

export type ErrorCode = keyof typeof errorStatuses;

export const errorCodes = Object.keys(errorStatuses) as [ErrorCode, ...ErrorCode[]];

/**
 * The one error type the core throws. `code` is the stable snake_case string clients match on;
 * `status` is the HTTP status it maps to; `details` is optional structured context that is safe
 * to show a client (never a secret, never a stack trace).
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details?: unknown;

  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.status = errorStatuses[code];
    this.details = details;
  }
}

/** The wire body of every error, in JSON responses and SSE `error` events alike. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: unknown };
}

export function errorBody(error: AppError): ErrorBody {
  const body: ErrorBody = { error: { code: error.code, message: error.message } };
  if (error.details !== undefined) body.error.details = error.details;
  return body;
}

/** Anything thrown that is not an AppError becomes a generic 500 without its message or stack. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  return new AppError('internal_error', 'The server failed to handle this request; see its log.');
}
