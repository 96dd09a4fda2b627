import type { Queue } from 'bullmq';
import { sql } from 'drizzle-orm';
import { queryRows, type AppDatabase } from '../db/client.js';
import { asSystem } from '../db/scope.js';

const DISPATCH_BATCH = 500;

/**
 * Hands queued rows that Redis has not seen to BullMQ, oldest first. The rows stay locked until
 * the handover is recorded; a crash in between only repeats it, and BullMQ ignores a job id it holds.
 */
export async function dispatchQueued(db: AppDatabase, queue: Queue): Promise<number> {
  let total = 0;
  for (;;) {
    const handed = await asSystem(db, 'hand queued jobs to Redis', async (tx) => {
      const rows = await queryRows<{ id: string; type: string; max_attempts: number; delay_ms: number }>(
        tx,
        sql`select id, type, max_attempts,
                   greatest(0, extract(epoch from run_after - now()) * 1000)::int as delay_ms
            from jobs where status = 'queued' and dispatched_at is null and not cancel_requested
            order by id limit ${DISPATCH_BATCH} for update skip locked`,
      );
      if (rows.length === 0) return 0;
      await queue.addBulk(
        rows.map((row) => ({
          name: row.type,
          // Payloads (transcripts, questions) stay in the database; Redis holds only the id.
          data: {},
          opts: {
            jobId: row.id,
            delay: row.delay_ms,
            attempts: row.max_attempts,
            backoff: { type: 'transcribo' },
            removeOnComplete: { age: 3_600, count: 1_000 },
            removeOnFail: { age: 7 * 86_400, count: 5_000 },
          },
        })),
      );
      const ids = rows.map((row) => row.id);
      await tx.execute(sql`update jobs set dispatched_at = now()
                           where id in (${sql.join(ids.map((id) => sql`${id}`), sql`, `)})`);
      return rows.length;
    });
    total += handed;
    if (handed < DISPATCH_BATCH) return total;
  }
}

/** Redis may have come back empty: every queued row is to be handed over again (BullMQ ignores ids it holds). */
export async function forgetDispatches(db: AppDatabase): Promise<void> {
  await asSystem(db, 'hand queued jobs to Redis again', (tx) =>
    tx.execute(sql`update jobs set dispatched_at = null where status = 'queued' and dispatched_at is not null`),
  );
}
