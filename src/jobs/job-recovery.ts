import { sql } from 'drizzle-orm';
import { queryRows } from '../db/client.js';
import { asSystem } from '../db/scope.js';
import { toJobRow, type RawJob } from './job-rows.js';
import { settleJob, workerLost } from './job-settlement.js';
import type { JobRunnerOptions } from './runner.js';

type Recoverer = Pick<JobRunnerOptions, 'db' | 'registry' | 'log' | 'events'>;

/**
 * Requeues jobs whose worker died (lease expired, or any 'running' job when this is the only
 * possible worker). A job that already used its last attempt fails instead of looping forever.
 * Returns the ids put back in the queue.
 */
export async function reclaimAbandoned(options: Recoverer): Promise<string[]> {
  // One transaction: the rows stay locked from the check to the update, so a worker that
  // renews its lease or claims the job meanwhile cannot have it taken from under it.
  const { lost, requeued } = await asSystem(options.db, 'recover jobs of dead workers', async (tx) => {
    const abandoned = await queryRows<RawJob>(
      tx,
      sql`select * from jobs where status = 'running' and locked_until < now() for update skip locked`,
    );
    const lost: string[] = [];
    const requeued: string[] = [];
    for (const raw of abandoned) {
      const job = toJobRow(raw);
      if (job.attempts >= job.maxAttempts) {
        await settleJob(tx, job, options.registry.get(job.type), workerLost());
        lost.push(job.id);
      } else {
        await tx.execute(sql`update jobs set status = 'queued', locked_by = null, locked_until = null,
                             dispatched_at = null, updated_at = now() where id = ${job.id}`);
        requeued.push(job.id);
      }
      options.log.warn({ job_id: job.id, attempts: job.attempts }, 'recovered a job whose worker stopped');
    }
    return { lost, requeued };
  });
  for (const id of lost) options.events.settled(id, 'failed');
  return requeued;
}

/**
 * A cancel can arrive while a job is between workers (released at shutdown, requeued after a
 * crash or a failed attempt); such a job is never claimed again, so it is settled here.
 */
export async function settleQueuedCancels(options: Recoverer): Promise<void> {
  const cancelled = await asSystem(options.db, 'settle requested cancellations', async (tx) => {
    const rows = await queryRows<RawJob>(
      tx,
      sql`select * from jobs where status = 'queued' and cancel_requested for update skip locked`,
    );
    for (const raw of rows) {
      await settleJob(tx, toJobRow(raw), options.registry.get(raw.type), { status: 'cancelled' });
    }
    return rows.map((r) => r.id);
  });
  for (const id of cancelled) options.events.settled(id, 'cancelled');
}
