import { DelayedError, UnrecoverableError, type Job, type WorkerOptions } from 'bullmq';
import { retryDelayMs } from './failures.js';
import type { RunOutcome } from './run-outcome.js';

/** How long a job waits before another try when its bookkeeping (the database) failed. */
const INFRA_RETRY_MS = 5_000;

/** What a finished BullMQ job returns: the status the job's row ended in (or why it did not run). */
export interface ProcessResult {
  status: string;
}

/** A failure worth another attempt; carries the delay the runner chose (and wrote to the row). */
class RetryLater extends Error {
  constructor(
    message: string,
    readonly delayMs: number,
  ) {
    super(message);
    this.name = 'RetryLater';
  }
}

/** The worker's stall detection and backoff, for a lease of `leaseMs`. */
export function retrySettings(leaseMs: number): Pick<WorkerOptions, 'stalledInterval' | 'maxStalledCount' | 'settings'> {
  return {
    stalledInterval: Math.max(500, Math.round(leaseMs / 2)),
    // Rows count attempts (a stalled run is one); the row's limit decides, not BullMQ's stall count.
    maxStalledCount: 1_000,
    settings: {
      backoffStrategy: (attemptsMade: number, _type?: string, error?: Error) =>
        error instanceof RetryLater ? error.delayMs : retryDelayMs(attemptsMade),
    },
  };
}

/** The database is unreachable: the job is tried later, without spending one of its attempts. */
export async function retryAfterInfraFailure(job: Job, token: string | undefined): Promise<never> {
  await job.moveToDelayed(Date.now() + INFRA_RETRY_MS, token);
  throw new DelayedError();
}

/** Tells BullMQ how a run ended: a result, a final failure, a retry after the runner's delay, or a hand-back. */
export async function settleInBullMQ(job: Job, token: string | undefined, outcome: RunOutcome): Promise<ProcessResult> {
  switch (outcome.kind) {
    case 'completed':
    case 'cancelled':
    case 'lost':
      return { status: outcome.kind };
    case 'failed':
      throw new UnrecoverableError(`${outcome.code}: ${outcome.error}`);
    case 'retrying':
      throw new RetryLater(outcome.error, outcome.delayMs);
    case 'released':
      await job.moveToDelayed(Date.now(), token);
      throw new DelayedError();
  }
}
