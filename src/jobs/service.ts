import { eq } from 'drizzle-orm';
import type { AppDatabase } from '../db/client.js';
import { jobs } from '../db/schema.js';
import { withUser } from '../db/scope.js';
import { errors } from '../http/errors.js';
import type { JobQueue } from './queue.js';
import type { JobView } from './schemas.js';

type JobRecord = typeof jobs.$inferSelect;

export function toJobView(row: JobRecord): JobView {
  return {
    id: row.id,
    type: row.type,
    status: row.status as JobView['status'],
    progress: row.progress,
    error: row.error,
    error_code: row.errorCode,
    result: row.result,
    attempts: row.attempts,
    max_attempts: row.maxAttempts,
    created_at: row.createdAt.toISOString(),
    started_at: row.startedAt?.toISOString() ?? null,
    finished_at: row.finishedAt?.toISOString() ?? null,
  };
}

const FINAL = new Set(['completed', 'failed', 'cancelled']);

export class JobService {
  constructor(
    private readonly db: AppDatabase,
    private readonly queue: JobQueue,
  ) {}

  async get(userId: string, id: string): Promise<JobView> {
    const row = await withUser(this.db, userId, async (tx) => {
      const [found] = await tx.select().from(jobs).where(eq(jobs.id, id));
      return found;
    });
    if (!row) throw errors.notFound('Job');
    return toJobView(row);
  }

  async cancel(userId: string, id: string): Promise<JobView> {
    const before = await this.get(userId, id);
    if (!FINAL.has(before.status)) {
      await this.queue.cancel(id);
      await this.waitUntilSettled(userId, id, 10_000);
    }
    return this.get(userId, id);
  }

  /**
   * Resolves with the job once it reaches a final status, or with its current state after
   * `timeoutMs`. Listens for this process's queue events and polls for jobs run elsewhere.
   */
  async waitUntilSettled(userId: string, id: string, timeoutMs: number): Promise<JobView> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const job = await this.get(userId, id);
      const left = deadline - Date.now();
      if (FINAL.has(job.status) || left <= 0) return job;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.queue.off('settled', onSettled);
          resolve();
        };
        const onSettled = (jobId: string) => {
          if (jobId === id) done();
        };
        const timer = setTimeout(done, Math.min(left, 1_000));
        this.queue.on('settled', onSettled);
      });
    }
  }
}
