/**
 * Every error a client can see: a stable code, its true HTTP status and a human message.
 * Clients branch on `code`; the message may change.
 */
export const ERROR_STATUS = {
  bad_request: 400,
  invalid_body: 400,
  unauthorized: 401,
  invalid_credentials: 401,
  invalid_token: 401,
  token_expired: 401,
  forbidden: 403,
  not_found: 404,
  route_not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  email_taken: 409,
  recording_has_no_audio: 409,
  transcription_not_ready: 409,
  timestamps_unavailable: 409,
  payload_too_large: 413,
  uri_too_long: 414,
  unsupported_media_type: 415,
  range_not_satisfiable: 416,
  validation_failed: 422,
  language_not_supported: 422,
  engine_not_configured: 422,
  model_not_allowed: 422,
  gateway_timeout: 504,
  llm_timeout: 504,
  rate_limited: 429,
  llm_quota_exceeded: 429,
  internal_error: 500,
  llm_unavailable: 502,
  llm_rejected: 502,
  llm_invalid_reply: 502,
  service_unavailable: 503,
  llm_not_configured: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface FieldError {
  field: string;
  message: string;
}

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly errors?: FieldError[],
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'AppError';
    this.status = ERROR_STATUS[code];
  }
}

export const errors = {
  notFound: (what: string) => new AppError('not_found', `${what} not found`),
  unauthorized: (message = 'Authentication required') => new AppError('unauthorized', message),
  invalidToken: (message = 'The token is invalid') => new AppError('invalid_token', message),
  tokenExpired: () => new AppError('token_expired', 'The token has expired'),
  invalidCredentials: () => new AppError('invalid_credentials', 'Invalid e-mail or password'),
  forbidden: (message = 'You are not allowed to do this') => new AppError('forbidden', message),
  conflict: (message: string) => new AppError('conflict', message),
  validation: (message: string, fieldErrors?: FieldError[]) =>
    new AppError('validation_failed', message, fieldErrors),
  unavailable: (message: string, retryAfterSeconds?: number) =>
    new AppError(
      'service_unavailable',
      message,
      undefined,
      retryAfterSeconds ? { 'retry-after': String(retryAfterSeconds) } : undefined,
    ),
};
