import { AudioDecodeError } from '../audio/decode.js';
import { ProviderError } from '../chat/providers/provider.js';
import { AppError, isErrorCode, isPermanent, type ErrorCode } from '../http/errors.js';
import { EngineError } from '../transcription/engines/engine.js';
import { PermanentJobError } from './types.js';

export interface Failure {
  permanent: boolean;
  /** What the user is told: actionable, without internals. */
  message: string;
  /** Stored as the job's error_code; whether it is permanent is looked up in the list. */
  code: ErrorCode;
}

function failure(code: ErrorCode, message: string): Failure {
  // A code outside the list (untyped JavaScript) must not make classifying a failure throw.
  if (!isErrorCode(code)) return { permanent: false, message, code: 'internal_error' };
  return { permanent: isPermanent(code), message, code };
}

/**
 * Names the failure with a code from the error list, whose `permanent` decides whether retrying
 * can help: bad input and unsupported options fail at once; crashes, timeouts and unavailable
 * services are retried with backoff.
 */
export function classifyFailure(error: unknown): Failure {
  // Permanent by its name; its type only admits codes the list marks permanent, so the two agree.
  if (error instanceof PermanentJobError) return { ...failure(error.code, error.message), permanent: true };
  if (error instanceof EngineError) return failure(error.code, error.message);
  if (error instanceof ProviderError) return failure(error.code, `The ${error.provider} model failed: ${error.message}`);
  // Refusals of the request itself (no provider configured, model not allowed, quota spent), and
  // unreachable services (storage_unavailable) that a later attempt may find back.
  if (error instanceof AppError) return failure(error.code, error.message);
  if (error instanceof AudioDecodeError) return failure('audio_undecodable', `The audio cannot be decoded: ${error.reason}`);
  return failure('internal_error', 'The job failed unexpectedly; see the server log');
}

const BASE_DELAY_MS = 2_000;
const MAX_DELAY_MS = 60_000;

/** Exponential backoff with jitter, so retries of a failed batch do not arrive together. */
export function retryDelayMs(attempt: number): number {
  const exponential = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** Math.max(0, attempt - 1));
  return Math.round(exponential * (0.75 + Math.random() * 0.5));
}
