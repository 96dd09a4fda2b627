import { sql } from 'drizzle-orm';
import { queryRows } from '../db/client.js';
import { asSystem } from '../db/scope.js';
import type { JobRunnerOptions } from './runner.js';
import { JobInterrupted } from './types.js';

/** The worker whose lock guards a job's writes. */
type LeaseHolder = Pick<JobRunnerOptions, 'db' | 'workerId' | 'leaseMs' | 'log'>;

export function leaseEnd(leaseMs: number) {
  return sql`now() + ${`${leaseMs} milliseconds`}::interval`;
}

/** The assignments that make a job this worker's: one claim shape for every way a job is claimed. */
export function claimedBy(workerId: string, leaseMs: number) {
  return sql`status = 'running', locked_by = ${workerId}, locked_until = ${leaseEnd(leaseMs)},
             attempts = attempts + 1, started_at = coalesce(started_at, now()), updated_at = now()`;
}

/** One heartbeat: a lost lease or a requested cancel reaches the job through its signal. */
export async function renewLease(holder: LeaseHolder, jobId: string, controller: AbortController): Promise<void> {
  try {
    const [row] = await asSystem(holder.db, 'renew a job lease', (tx) =>
      queryRows<{ cancel_requested: boolean }>(
        tx,
        sql`update jobs set locked_until = ${leaseEnd(holder.leaseMs)}
            where id = ${jobId} and status = 'running' and locked_by = ${holder.workerId}
            returning cancel_requested`,
      ),
    );
    if (!row) controller.abort(new JobInterrupted('lease_lost'));
    else if (row.cancel_requested) controller.abort(new JobInterrupted('cancelled'));
  } catch (error) {
    holder.log.warn({ err: error, job_id: jobId }, 'could not renew job lease');
  }
}

/** Hands a job back to the queue without spending its attempt; false when this worker no longer holds it. */
export async function releaseJob(holder: Pick<LeaseHolder, 'db' | 'workerId'>, jobId: string): Promise<boolean> {
  const released = await asSystem(holder.db, 'release an interrupted job', (tx) =>
    queryRows<{ id: string }>(
      tx,
      sql`update jobs set status = 'queued', locked_by = null, locked_until = null,
                 attempts = greatest(attempts - 1, 0), updated_at = now()
          where id = ${jobId} and status = 'running' and locked_by = ${holder.workerId}
          returning id`,
    ),
  );
  return released.length > 0;
}
