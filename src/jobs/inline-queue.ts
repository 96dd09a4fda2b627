import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import { queryRows, type AppDatabase, type Tx } from '../db/client.js';
import { asSystem } from '../db/scope.js';
import type { EnqueueSpec, JobEvents, JobQueue } from './queue.js';
import type { JobRegistry } from './registry.js';
import { classifyFailure, retryDelayMs } from './failures.js';
import { JobInterrupted, type JobHandler, type JobRow, type JobSettlement, type JobStatus } from './types.js';

export interface InlineQueueOptions {
  db: AppDatabase;
  registry: JobRegistry;
  concurrency: number;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
  /** How long a claimed job stays ours without a heartbeat. */
  leaseMs?: number;
  /** How often idle workers look for work queued by other processes or due retries. */
  pollMs?: number;
  /**
   * True when no other process can be working on this database (PGlite): jobs left 'running'
   * by a previous run are requeued at once instead of after their lease expires.
   */
  soleWorker?: boolean;
  /** A running job is stopped after this long and fails (an engine that hangs must not hold a worker). */
  timeoutMs?: number;
}

interface RawJob {
  id: string;
  user_id: string;
  type: string;
  payload_version: number;
  payload: Record<string, unknown>;
  status: JobStatus;
  progress: number;
  attempts: number;
  max_attempts: number;
}

function toJobRow(raw: RawJob): JobRow {
  return {
    id: raw.id,
    userId: raw.user_id,
    type: raw.type,
    payloadVersion: raw.payload_version,
    payload: raw.payload,
    status: raw.status,
    progress: raw.progress,
    attempts: raw.attempts,
    maxAttempts: raw.max_attempts,
  };
}

const PROGRESS_WRITE_MS = 1_000;

/**
 * The embedded queue: a worker pool in this process whose every state change is a row update,
 * so a restart loses nothing. Safe with several processes on one PostgreSQL (SKIP LOCKED claims,
 * leases renewed by heartbeats, expired leases reclaimed).
 */
export class InlineJobQueue extends EventEmitter<JobEvents> implements JobQueue {
  readonly kind = 'inline' as const;
  private readonly workerId = `inline-${process.pid}-${randomUUID().slice(0, 8)}`;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly active = new Map<string, { controller: AbortController; done: Promise<void> }>();
  private running = false;
  private loop: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;

  constructor(private readonly options: InlineQueueOptions) {
    super();
    this.leaseMs = options.leaseMs ?? 30_000;
    this.pollMs = options.pollMs ?? 1_000;
  }

  async enqueue(tx: Tx, spec: EnqueueSpec): Promise<void> {
    await tx.execute(sql`
      insert into jobs (id, user_id, type, payload_version, payload, status, max_attempts)
      values (${spec.id}, ${spec.userId}, ${spec.type}, ${spec.payloadVersion}, ${JSON.stringify(spec.payload)}::jsonb,
              'queued', ${spec.maxAttempts})`);
  }

  wake(): void {
    this.wakeUp?.();
  }

  async start(): Promise<void> {
    if (this.running) return;
    await this.refuseUnknownTypes();
    await this.reclaim(this.options.soleWorker === true);
    this.running = true;
    this.loop = this.work();
  }

  async stop(graceMs: number): Promise<void> {
    this.running = false;
    this.wake();
    await this.loop;
    const pending = [...this.active.values()];
    const finished = Promise.all(pending.map((p) => p.done));
    const timedOut = await Promise.race([finished.then(() => false), sleep(graceMs).then(() => true)]);
    if (timedOut) {
      for (const { controller } of this.active.values()) controller.abort(new JobInterrupted('shutdown'));
      await finished;
    }
  }

  async cancel(jobId: string): Promise<void> {
    const handlerOf = (type: string) => this.options.registry.get(type);
    const cancelledQueued = await asSystem(this.options.db, 'cancel a job for its owner', async (tx) => {
      const [raw] = await queryRows<RawJob>(
        tx,
        sql`update jobs set cancel_requested = true, updated_at = now() where id = ${jobId} returning *`,
      );
      if (!raw || raw.status !== 'queued') return false;
      await this.settle(tx, toJobRow(raw), handlerOf(raw.type), { status: 'cancelled' });
      return true;
    });
    if (cancelledQueued) {
      this.emit('settled', jobId, 'cancelled');
      return;
    }
    this.active.get(jobId)?.controller.abort(new JobInterrupted('cancelled'));
  }

  /** Queued jobs of a type nobody handles would wait forever: refuse to start instead. */
  private async refuseUnknownTypes(): Promise<void> {
    const known = this.options.registry.types();
    const rows = await asSystem(this.options.db, 'start-up check of queued job types', (tx) =>
      queryRows<{ type: string }>(tx, sql`select distinct type from jobs where status in ('queued', 'running')`),
    );
    const unknown = rows.map((r) => r.type).filter((t) => !known.includes(t));
    if (unknown.length > 0) {
      throw new Error(`Jobs of unknown type are waiting (${unknown.join(', ')}); no handler is registered for them`);
    }
  }

  /**
   * Requeues jobs whose worker died (lease expired, or any 'running' job when this is the only
   * possible worker). A job that already used its last attempt fails instead of looping forever.
   */
  private async reclaim(all: boolean): Promise<void> {
    // One transaction: the rows stay locked from the check to the update, so a worker that
    // renews its lease or claims the job meanwhile cannot have it taken from under it.
    const failed = await asSystem(this.options.db, 'recover jobs of dead workers', async (tx) => {
      const abandoned = await queryRows<RawJob>(
        tx,
        all
          ? sql`select * from jobs where status = 'running' for update skip locked`
          : sql`select * from jobs where status = 'running' and locked_until < now() for update skip locked`,
      );
      const lost: string[] = [];
      for (const raw of abandoned) {
        const job = toJobRow(raw);
        if (job.attempts >= job.maxAttempts) {
          await this.settle(tx, job, this.options.registry.get(job.type), {
            status: 'failed',
            error: 'The worker running this job stopped unexpectedly, and no attempts are left',
            code: 'worker_lost',
          });
          lost.push(job.id);
        } else {
          await tx.execute(sql`update jobs set status = 'queued', locked_by = null, locked_until = null,
                               updated_at = now() where id = ${job.id}`);
        }
        this.options.log.warn({ job_id: job.id, attempts: job.attempts }, 'recovered a job whose worker stopped');
      }
      return lost;
    });
    for (const id of failed) this.emit('settled', id, 'failed');
  }

  /**
   * A cancel can arrive while a job is between workers (released at shutdown, requeued after a
   * crash or a failed attempt); such a job is never claimed again, so it is settled here.
   */
  private async settleCancelRequests(): Promise<void> {
    const cancelled = await asSystem(this.options.db, 'settle requested cancellations', async (tx) => {
      const rows = await queryRows<RawJob>(
        tx,
        sql`select * from jobs where status = 'queued' and cancel_requested for update skip locked`,
      );
      for (const raw of rows) {
        await this.settle(tx, toJobRow(raw), this.options.registry.get(raw.type), { status: 'cancelled' });
      }
      return rows.map((r) => r.id);
    });
    for (const id of cancelled) this.emit('settled', id, 'cancelled');
  }

  private async work(): Promise<void> {
    let lastReclaim = Date.now();
    while (this.running) {
      try {
        if (Date.now() - lastReclaim > this.leaseMs) {
          lastReclaim = Date.now();
          await this.reclaim(false);
        }
        await this.settleCancelRequests();
        if (this.active.size < this.options.concurrency) {
          const job = await this.claim();
          if (job) {
            this.launch(job);
            continue;
          }
        }
      } catch (error) {
        this.options.log.error({ err: error }, 'job loop error; retrying');
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.pollMs);
        this.wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeUp = null;
    }
  }

  private async claim(): Promise<JobRow | null> {
    const types = this.options.registry.types();
    const [raw] = await asSystem(this.options.db, 'claim the next job', (tx) =>
      queryRows<RawJob>(
        tx,
        sql`update jobs set status = 'running', locked_by = ${this.workerId},
                   locked_until = now() + ${`${this.leaseMs} milliseconds`}::interval,
                   attempts = attempts + 1, started_at = coalesce(started_at, now()), updated_at = now()
            where id = (select id from jobs
                        where status = 'queued' and run_after <= now() and not cancel_requested
                          and type in (${sql.join(types.map((t) => sql`${t}`), sql`, `)})
                        order by run_after, id
                        limit 1
                        for update skip locked)
            returning *`,
      ),
    );
    return raw ? toJobRow(raw) : null;
  }

  private launch(job: JobRow): void {
    const controller = new AbortController();
    const done = this.execute(job, controller)
      .catch((error: unknown) => this.options.log.error({ err: error, job_id: job.id }, 'job bookkeeping failed'))
      .finally(() => {
        this.active.delete(job.id);
        this.wake();
      });
    this.active.set(job.id, { controller, done });
  }

  private async execute(job: JobRow, controller: AbortController): Promise<void> {
    const handler = this.options.registry.get(job.type)!;
    const heartbeat = setInterval(() => void this.heartbeat(job.id, controller), Math.max(100, this.leaseMs / 3));
    const deadline = this.options.timeoutMs
      ? setTimeout(() => controller.abort(new JobInterrupted('timeout')), this.options.timeoutMs)
      : undefined;
    let lastProgressWrite = 0;
    let lastPercent = job.progress;
    const progress = (percent: number) => {
      const value = Math.max(0, Math.min(100, Math.round(percent)));
      if (value === lastPercent) return;
      lastPercent = value;
      this.emit('progress', job.id, value);
      if (Date.now() - lastProgressWrite < PROGRESS_WRITE_MS) return;
      lastProgressWrite = Date.now();
      void this.writeProgress(job, handler, value);
    };
    try {
      const payload = handler.parse(job.payload, job.payloadVersion);
      const partial = (data: Record<string, unknown>) => this.emit('partial', job.id, data);
      const success = await handler.run({ job, payload, signal: controller.signal, progress, partial });
      // A handler that finished despite its signal: the interruption wins, nothing is committed.
      if (controller.signal.aborted) throw controller.signal.reason;
      const committed = await asSystem(this.options.db, 'record a finished job', async (tx) => {
        const rows = await queryRows<{ id: string }>(
          tx,
          sql`update jobs set status = 'completed', progress = 100, result = ${JSON.stringify(success.result)}::jsonb,
                     error = null, error_code = null, finished_at = now(), locked_by = null, locked_until = null,
                     updated_at = now()
              where id = ${job.id} and status = 'running' and locked_by = ${this.workerId}
              returning id`,
        );
        if (rows.length === 0) return false;
        await success.commit(tx);
        return true;
      });
      if (committed) this.emit('settled', job.id, 'completed');
      else this.options.log.warn({ job_id: job.id }, 'job finished after losing its lease; result discarded');
    } catch (error) {
      await this.fail(job, handler, controller.signal, error);
    } finally {
      clearInterval(heartbeat);
      clearTimeout(deadline);
    }
  }

  private async fail(job: JobRow, handler: JobHandler, signal: AbortSignal, error: unknown): Promise<void> {
    const reason: unknown = signal.aborted ? signal.reason : undefined;
    if (reason instanceof JobInterrupted && (reason.why === 'shutdown' || reason.why === 'lease_lost')) {
      // Shutdown or lost lease: not the job's fault. Hand it back without spending the attempt.
      await asSystem(this.options.db, 'release an interrupted job', (tx) =>
        tx.execute(sql`update jobs set status = 'queued', locked_by = null, locked_until = null,
                              attempts = greatest(attempts - 1, 0), updated_at = now()
                       where id = ${job.id} and status = 'running' and locked_by = ${this.workerId}`),
      );
      this.options.log.info({ job_id: job.id, why: reason.why }, 'job interrupted; it will resume');
      return;
    }
    const failure =
      reason instanceof JobInterrupted
        ? reason.why === 'timeout'
          ? {
              permanent: true,
              code: 'job_timeout',
              message: `The job ran longer than ${Math.round((this.options.timeoutMs ?? 0) / 1000)} s and was stopped (JOB_TIMEOUT_SECONDS)`,
            }
          : null
        : classifyFailure(error);
    const settlement: JobSettlement = !failure
      ? { status: 'cancelled' }
      : failure.permanent || job.attempts >= job.maxAttempts
        ? { status: 'failed', error: failure.message, code: failure.code }
        : { status: 'retrying', error: failure.message, attempt: job.attempts };
    const settled = await asSystem(this.options.db, 'record a failed job', async (tx) => {
      const [owned] = await queryRows<{ id: string }>(
        tx,
        sql`select id from jobs where id = ${job.id} and status = 'running' and locked_by = ${this.workerId} for update`,
      );
      if (!owned) return false;
      await this.settle(tx, job, handler, settlement);
      return true;
    });
    if (!settled) return;
    if (settlement.status === 'retrying') {
      this.options.log.warn({ job_id: job.id, attempt: job.attempts, err: error }, 'job failed; will retry');
    } else {
      if (settlement.status === 'failed') this.options.log.warn({ job_id: job.id, err: error }, 'job failed');
      this.emit('settled', job.id, settlement.status);
    }
  }

  /** Writes a job's final (or retry) state and lets its handler mirror it, in one transaction. */
  private async settle(tx: Tx, job: JobRow, handler: JobHandler | undefined, settlement: JobSettlement): Promise<void> {
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
                                    run_after = now() + ${`${retryDelayMs(settlement.attempt)} milliseconds`}::interval
                             where id = ${job.id}`);
        break;
    }
    await handler?.onSettled(tx, job, settlement);
  }

  private async heartbeat(jobId: string, controller: AbortController): Promise<void> {
    try {
      const [row] = await asSystem(this.options.db, 'renew a job lease', (tx) =>
        queryRows<{ cancel_requested: boolean }>(
          tx,
          sql`update jobs set locked_until = now() + ${`${this.leaseMs} milliseconds`}::interval
              where id = ${jobId} and status = 'running' and locked_by = ${this.workerId}
              returning cancel_requested`,
        ),
      );
      if (!row) controller.abort(new JobInterrupted('lease_lost'));
      else if (row.cancel_requested) controller.abort(new JobInterrupted('cancelled'));
    } catch (error) {
      this.options.log.warn({ err: error, job_id: jobId }, 'could not renew job lease');
    }
  }

  private async writeProgress(job: JobRow, handler: JobHandler, percent: number): Promise<void> {
    try {
      await asSystem(this.options.db, 'record job progress', async (tx) => {
        const owned = await queryRows<{ id: string }>(
          tx,
          sql`update jobs set progress = ${percent}, updated_at = now()
              where id = ${job.id} and status = 'running' and locked_by = ${this.workerId}
              returning id`,
        );
        if (owned.length > 0) await handler.onProgress?.(tx, job, percent);
      });
    } catch (error) {
      this.options.log.warn({ err: error, job_id: job.id }, 'could not record job progress');
    }
  }
}
