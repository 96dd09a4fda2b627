import { AudioDecodeError } from '../audio/decode.js';
import { ProviderError } from '../chat/providers/provider.js';
import { AppError } from '../http/errors.js';
import { EngineError } from '../transcription/engines/engine.js';
import { PermanentJobError } from './types.js';

export interface Failure {
  permanent: boolean;
  /** What the user is told: actionable, without internals. */
  message: string;
  code: string;
}

/**
 * Decides whether retrying can help. Bad input and unsupported options fail at once; crashes,
 * timeouts and unavailable services are retried with backoff.
 */
export function classifyFailure(error: unknown): Failure {
  if (error instanceof PermanentJobError) return { permanent: true, message: error.message, code: error.code };
  if (error instanceof EngineError) {
    return { permanent: error.kind === 'permanent', message: error.message, code: error.code };
  }
  if (error instanceof ProviderError) {
    return { permanent: error.kind === 'permanent', message: `The ${error.provider} model failed: ${error.message}`, code: `llm_${error.kind}` };
  }
  // Refusals of the request itself (no provider configured, model not allowed, quota spent).
  if (error instanceof AppError && (error.status < 500 || error.code === 'llm_not_configured')) {
    return { permanent: true, message: error.message, code: error.code };
  }
  if (error instanceof AudioDecodeError) {
    return { permanent: true, message: `The audio cannot be decoded: ${error.reason}`, code: 'audio_undecodable' };
  }
  return { permanent: false, message: 'The job failed unexpectedly; see the server log', code: 'internal_error' };
}

const BASE_DELAY_MS = 2_000;
const MAX_DELAY_MS = 60_000;

/** Exponential backoff with jitter, so retries of a failed batch do not arrive together. */
export function retryDelayMs(attempt: number): number {
  const exponential = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** Math.max(0, attempt - 1));
  return Math.round(exponential * (0.75 + Math.random() * 0.5));
}
