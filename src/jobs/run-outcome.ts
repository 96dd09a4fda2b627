import { classifyFailure } from './failures.js';
import { JobInterrupted, type JobRow, type JobSettlement } from './types.js';

/**
 * How one run of a job ended, from the queue's side: `released` (shutdown: it will resume
 * elsewhere without spending the attempt), `lost` (another worker holds it now), or a status.
 */
export type RunOutcome =
  | { kind: 'completed' }
  | { kind: 'cancelled' }
  | { kind: 'failed'; error: string; code: string }
  | { kind: 'retrying'; error: string; delayMs: number }
  | { kind: 'released' }
  | { kind: 'lost' };

/**
 * What a run that threw (or was stopped by `reason`, its signal's) settles as: a cancel is
 * cancelled, a timeout fails for good, anything else fails once permanent or out of attempts.
 */
export function failureSettlement(job: JobRow, reason: unknown, error: unknown, timeoutMs: number | undefined): JobSettlement {
  const failure =
    reason instanceof JobInterrupted
      ? reason.why === 'timeout'
        ? {
            permanent: true,
            code: 'job_timeout',
            message: `The job ran longer than ${Math.round((timeoutMs ?? 0) / 1000)} s and was stopped (JOB_TIMEOUT_SECONDS)`,
          }
        : null
      : classifyFailure(error);
  return !failure
    ? { status: 'cancelled' }
    : failure.permanent || job.attempts >= job.maxAttempts
      ? { status: 'failed', error: failure.message, code: failure.code }
      : { status: 'retrying', error: failure.message, attempt: job.attempts };
}
