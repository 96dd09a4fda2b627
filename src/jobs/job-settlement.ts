import { sql } from 'drizzle-orm';
import { queryRows, type Tx } from '../db/client.js';
import { asSystem } from '../db/scope.js';
import type { JobRunnerOptions } from './runner.js';
import type { JobHandler, JobRow, JobSettlement, JobSuccess } from './types.js';

/** The worker whose lock guards the writes: a job another worker took over is never written twice. */
type Owner = Pick<JobRunnerOptions, 'db' | 'workerId'>;

/** Writes a job's final (or retry) state and lets its handler mirror it, in one transaction. */
export async function settleJob(
  tx: Tx,
  job: JobRow,
  handler: JobHandler | undefined,
  settlement: JobSettlement,
  retryDelay = 0,
): Promise<void> {
  switch (settlement.status) {
    case 'cancelled':
      await tx.execute(sql`update jobs set status = 'cancelled', finished_at = now(), locked_by = null,
                                  locked_until = null, updated_at = now() where id = ${job.id}`);
      break;
    case 'failed':
      await tx.execute(sql`update jobs set status = 'failed', error = ${settlement.error},
                                  error_code = ${settlement.code}, finished_at = now(), locked_by = null,
                                  locked_until = null, updated_at = now() where id = ${job.id}`);
      break;
    case 'retrying':
      await tx.execute(sql`update jobs set status = 'queued', error = ${settlement.error}, locked_by = null,
                                  locked_until = null, updated_at = now(),
                                  run_after = now() + ${`${retryDelay} milliseconds`}::interval
                           where id = ${job.id}`);
      break;
  }
  await handler?.onSettled(tx, job, settlement);
}

/** Commits a finished job with its result; false when this worker no longer holds it (nothing is written). */
export async function recordCompletion(owner: Owner, job: JobRow, success: JobSuccess): Promise<boolean> {
  return asSystem(owner.db, 'record a finished job', async (tx) => {
    const rows = await queryRows<{ id: string }>(
      tx,
      sql`update jobs set status = 'completed', progress = 100, result = ${JSON.stringify(success.result)}::jsonb,
                 error = null, error_code = null, finished_at = now(), locked_by = null, locked_until = null,
                 updated_at = now()
          where id = ${job.id} and status = 'running' and locked_by = ${owner.workerId}
          returning id`,
    );
    if (rows.length === 0) return false;
    await success.commit(tx);
    return true;
  });
}

/** Settles a failed run; false when this worker no longer holds the job (nothing is written). */
export async function recordFailure(
  owner: Owner,
  job: JobRow,
  handler: JobHandler,
  settlement: JobSettlement,
  delayMs: number,
): Promise<boolean> {
  return asSystem(owner.db, 'record a failed job', async (tx) => {
    const [owned] = await queryRows<{ id: string }>(
      tx,
      sql`select id from jobs where id = ${job.id} and status = 'running' and locked_by = ${owner.workerId} for update`,
    );
    if (!owned) return false;
    await settleJob(tx, job, handler, settlement, delayMs);
    return true;
  });
}

/** What a job's row says when its worker died during its last attempt. */
export function workerLost(): JobSettlement {
  return {
    status: 'failed',
    error: 'The worker running this job stopped unexpectedly, and no attempts are left',
    code: 'worker_lost',
  };
}
