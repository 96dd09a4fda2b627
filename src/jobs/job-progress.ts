import { sql } from 'drizzle-orm';
import { queryRows } from '../db/client.js';
import { asSystem } from '../db/scope.js';
import type { JobEventSink, JobRunnerOptions } from './runner.js';
import type { JobHandler, JobRow } from './types.js';

const PROGRESS_WRITE_MS = 1_000;
/** Event ids grow across attempts, so a client resuming with Last-Event-ID never skips a new attempt's events. */
const SEQ_PER_ATTEMPT = 1_000_000;

/**
 * A run's `progress` and `partial` callbacks: listeners hear every change, numbered; `write` (the
 * row's progress) is called at most once a second.
 */
export function runReporter(
  job: JobRow,
  events: JobEventSink,
  write: (percent: number) => void,
): { progress: (percent: number) => void; partial: (data: Record<string, unknown>) => void } {
  let seq = job.attempts * SEQ_PER_ATTEMPT;
  let lastProgressWrite = 0;
  let lastPercent = job.progress;
  const progress = (percent: number) => {
    const value = Math.max(0, Math.min(100, Math.round(percent)));
    if (value === lastPercent) return;
    lastPercent = value;
    events.progress(job.id, value, ++seq);
    if (Date.now() - lastProgressWrite < PROGRESS_WRITE_MS) return;
    lastProgressWrite = Date.now();
    write(value);
  };
  const partial = (data: Record<string, unknown>) => events.partial(job.id, data, ++seq);
  return { progress, partial };
}

/** Writes a job's progress while this worker holds it, and lets its handler mirror it. Never throws. */
export async function recordProgress(
  owner: Pick<JobRunnerOptions, 'db' | 'workerId' | 'log'>,
  job: JobRow,
  handler: JobHandler,
  percent: number,
): Promise<void> {
  try {
    await asSystem(owner.db, 'record job progress', async (tx) => {
      const owned = await queryRows<{ id: string }>(
        tx,
        sql`update jobs set progress = ${percent}, updated_at = now()
            where id = ${job.id} and status = 'running' and locked_by = ${owner.workerId}
            returning id`,
      );
      if (owned.length > 0) await handler.onProgress?.(tx, job, percent);
    });
  } catch (error) {
    owner.log.warn({ err: error, job_id: job.id }, 'could not record job progress');
  }
}
