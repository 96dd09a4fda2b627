/**
 * The one list of error codes: every code a client can see, from an HTTP error, a failed job, a
 * speech engine or an LLM provider. Clients branch on `code`; the message may change.
 *
 * - status: the HTTP status the code answers with (the true one: 404, 409, 422, … never a blanket 400).
 * - permanent: whether a job failing with this code fails at once (retrying cannot help) or is
 *   retried with backoff.
 * - retryAfter: seconds sent as Retry-After when the cause itself named no wait.
 *
 * One code per line; README.md ("Error codes") describes each.
 */
export const ERRORS = {
  // The request is wrong: the client must change it.
  bad_request: { status: 400, permanent: true },
  invalid_body: { status: 400, permanent: true },
  unauthorized: { status: 401, permanent: true },
  invalid_credentials: { status: 401, permanent: true },
  invalid_token: { status: 401, permanent: true },
  token_expired: { status: 401, permanent: true },
  forbidden: { status: 403, permanent: true },
  insufficient_scope: { status: 403, permanent: true },
  not_found: { status: 404, permanent: true },
  route_not_found: { status: 404, permanent: true },
  recording_deleted: { status: 404, permanent: true },
  session_deleted: { status: 404, permanent: true },
  summary_not_found: { status: 404, permanent: true },
  method_not_allowed: { status: 405, permanent: true },
  conflict: { status: 409, permanent: true },
  email_taken: { status: 409, permanent: true },
  admin_self_demotion: { status: 409, permanent: true },
  recording_has_no_audio: { status: 409, permanent: true },
  transcription_not_ready: { status: 409, permanent: true },
  timestamps_unavailable: { status: 409, permanent: true },
  version_conflict: { status: 412, permanent: true },
  payload_too_large: { status: 413, permanent: true },
  audio_too_long: { status: 413, permanent: true },
  scan_size_exceeded: { status: 413, permanent: true },
  llm_context_exceeded: { status: 413, permanent: true },
  uri_too_long: { status: 414, permanent: true },
  unsupported_media_type: { status: 415, permanent: true },
  range_not_satisfiable: { status: 416, permanent: true },
  validation_failed: { status: 422, permanent: true },
  audio_undecodable: { status: 422, permanent: true },
  language_not_supported: { status: 422, permanent: true },
  engine_not_configured: { status: 422, permanent: true },
  model_not_allowed: { status: 422, permanent: true },
  speaker_hints_not_supported: { status: 422, permanent: true },
  malware_detected: { status: 422, permanent: true },
  speaker_not_found: { status: 422, permanent: true },
  // Too many requests: ours, a provider's, or today's LLM allowance.
  rate_limited: { status: 429, permanent: false },
  llm_quota_exceeded: { status: 429, permanent: true },
  llm_rate_limited: { status: 429, permanent: false, retryAfter: 10 },
  provider_rate_limited: { status: 429, permanent: false, retryAfter: 10 },
  too_many_sessions: { status: 429, permanent: false, retryAfter: 5 },
  // Our fault.
  internal_error: { status: 500, permanent: false },
  invalid_payload: { status: 500, permanent: true },
  worker_lost: { status: 500, permanent: false },
  engine_failed: { status: 500, permanent: false },
  // An upstream service (LLM provider, speech API) failed or refused.
  llm_unavailable: { status: 502, permanent: false },
  llm_rejected: { status: 502, permanent: true },
  llm_invalid_reply: { status: 502, permanent: false },
  provider_unavailable: { status: 502, permanent: false },
  provider_rejected: { status: 502, permanent: true },
  // Something this server needs is missing, busy or unreachable.
  service_unavailable: { status: 503, permanent: false },
  storage_unavailable: { status: 503, permanent: false, retryAfter: 10 },
  scanner_unavailable: { status: 503, permanent: false, retryAfter: 10 },
  llm_overloaded: { status: 503, permanent: false, retryAfter: 10 },
  provider_overloaded: { status: 503, permanent: false, retryAfter: 10 },
  llm_not_configured: { status: 503, permanent: true },
  engine_unavailable: { status: 503, permanent: true },
  model_unavailable: { status: 503, permanent: true },
  // Nothing came back in time.
  gateway_timeout: { status: 504, permanent: false },
  llm_timeout: { status: 504, permanent: false },
  provider_timeout: { status: 504, permanent: false },
  job_timeout: { status: 504, permanent: true },
} as const satisfies Record<string, ErrorSpec>;

export interface ErrorSpec {
  status: number;
  permanent: boolean;
  retryAfter?: number;
}

export type ErrorCode = keyof typeof ERRORS;
/** Codes a job may fail with at once (PermanentJobError). */
export type PermanentErrorCode = { [K in ErrorCode]: (typeof ERRORS)[K]['permanent'] extends true ? K : never }[ErrorCode];

/** Each code's HTTP status: a view of ERRORS for callers that only need the status. */
export const ERROR_STATUS = Object.fromEntries(Object.entries(ERRORS).map(([code, spec]) => [code, spec.status])) as {
  readonly [K in ErrorCode]: (typeof ERRORS)[K]['status'];
};

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERRORS, value);
}

/** Whether a job failing with `code` fails at once instead of being retried. */
export function isPermanent(code: ErrorCode): boolean {
  return ERRORS[code].permanent;
}

/**
 * The Retry-After header for `code`: the wait the cause named (milliseconds, rounded up to whole
 * seconds), else the code's own suggestion, else none.
 */
export function retryAfterHeader(code: ErrorCode, waitMs?: number): Record<string, string> | undefined {
  const spec: ErrorSpec = ERRORS[code];
  const seconds = waitMs !== undefined && Number.isFinite(waitMs) && waitMs >= 0 ? Math.ceil(waitMs / 1000) : spec.retryAfter;
  return seconds === undefined ? undefined : { 'retry-after': String(seconds) };
}

export interface FieldError {
  field: string;
  message: string;
}

export class AppError extends Error {
  readonly status: number;
  readonly headers?: Record<string, string>;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly errors?: FieldError[],
    headers?: Record<string, string>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AppError';
    this.status = ERRORS[code].status;
    // A code that suggests a wait sends it unless the caller named one.
    const suggested = headers?.['retry-after'] === undefined ? retryAfterHeader(code) : undefined;
    if (headers || suggested) this.headers = { ...suggested, ...headers };
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
