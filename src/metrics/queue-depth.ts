import { sql } from 'drizzle-orm';
import { queryRows, type AppDatabase } from '../db/client.js';
import { asSystem } from '../db/scope.js';

/**
 * Queued jobs per type, for the queue-depth gauge at scrape time. Cheap: it reads the partial
 * index of queued jobs (jobs_runnable_idx), never the finished ones. Jobs waiting for a retry's
 * backoff count too: they are work not yet done.
 */
export function queuedJobsByType(db: AppDatabase): Promise<Array<{ type: string; count: number }>> {
  return asSystem(db, 'metrics: queued jobs per type', async (tx) => {
    const rows = await queryRows<{ type: string; count: string }>(
      tx,
      sql`select type, count(*)::bigint as count from jobs where status = 'queued' group by type`,
    );
    return rows.map((r) => ({ type: r.type, count: Number(r.count) }));
  });
}
