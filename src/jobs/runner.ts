import { sql } from 'drizzle-orm';
import { queryRows, type AppDatabase, type Tx } from '../db/client.js';
import type { JobMetrics } from '../metrics/metrics.js';
import { asSystem } from '../db/scope.js';
import type { EnqueueSpec } from './queue.js';
import type { JobRegistry } from './registry.js';
import { classifyFailure, retryDelayMs } from './failures.js';
import { JobInterrupted, type JobHandler, type JobRow, type JobSettlement, type JobStatus } from './types.js';

export interface JobLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Where a runner reports what happens to jobs; each queue decides how far the news travels. */
export interface JobEventSink {
  progress(jobId: string, percent: number, seq: number): void;
  partial(jobId: string, data: Record<string, unknown>, seq: number): void;
  settled(jobId: string, status: Extract<JobStatus, 'completed' | 'failed' | 'cancelled'>): void;
}

export interface RawJob {
  id: string;
  user_id: string;
  type: string;
  payload_version: number;
  payload: Record<string, unknown>;
  status: JobStatus;
  progress: number;
  attempts: number;
  max_attempts: number;
  created_at?: Date | string;
  started_at?: Date | string | null;
}

export function toJobRow(raw: RawJob): JobRow {
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

export interface JobRunnerOptions {
  db: AppDatabase;
  registry: JobRegistry;
  workerId: string;
  leaseMs: number;
  timeoutMs?: number;
  log: JobLog;
  events: JobEventSink;
  /** Delay before retry `attempt + 1` (default: exponential backoff with jitter). */
  retryDelayMs?: (attempt: number) => number;
  metrics?: JobMetrics;
}

const PROGRESS_WRITE_MS = 1_000;
/** Event ids grow across attempts, so a client resuming with Last-Event-ID never skips a new attempt's events. */
const SEQ_PER_ATTEMPT = 1_000_000;

/**
 * Runs claimed jobs and keeps their rows true: heartbeats, progress, the result committed with the
 * completion, failures classified into retry or final. Every write is guarded by this worker's
 * lock, so a job that another worker took over can never be written twice. Both queues use it;
 * they differ only in how a job reaches a worker.
 */
export class JobRunner {
  constructor(private readonly options: JobRunnerOptions) {}

  get workerId(): string {
    return this.options.workerId;
  }

  async insert(tx: Tx, spec: EnqueueSpec): Promise<void> {
    await tx.execute(sql`
      insert into jobs (id, user_id, type, payload_version, payload, status, max_attempts)
      values (${spec.id}, ${spec.userId}, ${spec.type}, ${spec.payloadVersion}, ${JSON.stringify(spec.payload)}::jsonb,
              'queued', ${spec.maxAttempts})`);
  }

  /** Queued jobs of a type nobody handles would wait forever: refuse to start instead. */
  async refuseUnknownTypes(): Promise<void> {
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
   * Marks a job for cancellation. A queued one is settled at once (true); a running one is left
   * to its worker, which sees the flag at its next heartbeat or through the queue's own signal.
   */
  async requestCancel(jobId: string): Promise<boolean> {
    const cancelledQueued = await asSystem(this.options.db, 'cancel a job for its owner', async (tx) => {
      const [raw] = await queryRows<RawJob>(
        tx,
        sql`update jobs set cancel_requested = true, updated_at = now() where id = ${jobId} returning *`,
      );
      if (!raw || raw.status !== 'queued') return false;
      await this.settle(tx, toJobRow(raw), this.options.registry.get(raw.type), { status: 'cancelled' });
      return true;
    });
    if (cancelledQueued) this.options.events.settled(jobId, 'cancelled');
    return cancelledQueued;
  }

  /**
   * Requeues jobs whose worker died (lease expired, or any 'running' job when this is the only
   * possible worker). A job that already used its last attempt fails instead of looping forever.
   * Returns the ids put back in the queue.
   */
  async reclaim(): Promise<string[]> {
    // One transaction: the rows stay locked from the check to the update, so a worker that
    // renews its lease or claims the job meanwhile cannot have it taken from under it.
    const { lost, requeued } = await asSystem(this.options.db, 'recover jobs of dead workers', async (tx) => {
      const abandoned = await queryRows<RawJob>(
        tx,
        sql`select * from jobs where status = 'running' and locked_until < now() for update skip locked`,
      );
      const lost: string[] = [];
      const requeued: string[] = [];
      for (const raw of abandoned) {
        const job = toJobRow(raw);
        if (job.attempts >= job.maxAttempts) {
          await this.settle(tx, job, this.options.registry.get(job.type), workerLost());
          lost.push(job.id);
        } else {
          await tx.execute(sql`update jobs set status = 'queued', locked_by = null, locked_until = null,
                               dispatched_at = null, updated_at = now() where id = ${job.id}`);
          requeued.push(job.id);
        }
        this.options.log.warn({ job_id: job.id, attempts: job.attempts }, 'recovered a job whose worker stopped');
      }
      return { lost, requeued };
    });
    for (const id of lost) this.options.events.settled(id, 'failed');
    return requeued;
  }

  /**
   * A cancel can arrive while a job is between workers (released at shutdown, requeued after a
   * crash or a failed attempt); such a job is never claimed again, so it is settled here.
   */
  async settleCancelRequests(): Promise<void> {
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
    for (const id of cancelled) this.options.events.settled(id, 'cancelled');
  }

  /** Claims the next runnable job of a known type, oldest first (the database is the queue). */
  async claimNext(): Promise<JobRow | null> {
    const types = this.options.registry.types();
    const [raw] = await asSystem(this.options.db, 'claim the next job', (tx) =>
      queryRows<RawJob>(
        tx,
        sql`update jobs set ${this.claimedBy()}
            where id = (select id from jobs
                        where status = 'queued' and run_after <= now() and not cancel_requested
                          and type in (${sql.join(types.map((t) => sql`${t}`), sql`, `)})
                        order by run_after, id
                        limit 1
                        for update skip locked)
            returning *`,
      ),
    );
    return raw ? this.started(raw) : null;
  }

  /**
   * Claims one job that a queue delivered to this worker. The queue's lock says the job is ours,
   * so a 'running' row is taken over: its previous worker stalled or died, and its guarded writes
   * will now fail. Returns the job, or the status that makes running it pointless.
   */
  async claim(jobId: string): Promise<{ job: JobRow } | { skip: JobStatus | 'missing' }> {
    type Claim = { job: JobRow } | { skip: JobStatus | 'missing'; settled?: boolean };
    const outcome = await asSystem(this.options.db, 'claim a delivered job', async (tx): Promise<Claim> => {
      // The common case, a queued job nobody cancelled, in one statement.
      const [queued] = await queryRows<RawJob>(
        tx,
        sql`update jobs set ${this.claimedBy()}
            where id = ${jobId} and status = 'queued' and not cancel_requested
            returning *`,
      );
      if (queued) return { job: this.started(queued) };
      const [current] = await queryRows<RawJob & { cancel_requested: boolean }>(
        tx,
        sql`select * from jobs where id = ${jobId} for update`,
      );
      if (!current) return { skip: 'missing' };
      if (current.status !== 'queued' && current.status !== 'running') return { skip: current.status };
      const handler = this.options.registry.get(current.type);
      if (current.cancel_requested) {
        await this.settle(tx, toJobRow(current), handler, { status: 'cancelled' });
        return { skip: 'cancelled', settled: true };
      }
      if (current.status === 'running' && current.attempts >= current.max_attempts) {
        await this.settle(tx, toJobRow(current), handler, workerLost());
        return { skip: 'failed', settled: true };
      }
      if (current.status === 'running') {
        this.options.log.warn({ job_id: jobId, attempts: current.attempts }, 'took over a job whose worker stopped');
      }
      const claimed = await queryRows<RawJob>(
        tx,
        sql`update jobs set ${this.claimedBy()}
            where id = ${jobId}
            returning *`,
      );
      // The row is locked by this transaction since the select above, so the update found it.
      return { job: this.started(claimed[0] as RawJob) };
    });
    if ('job' in outcome) return outcome;
    if (outcome.settled) this.options.events.settled(jobId, outcome.skip === 'cancelled' ? 'cancelled' : 'failed');
    return { skip: outcome.skip };
  }

  /** A claimed row as a job; a first start is timed from the queueing, both by the database's clock. */
  private started(raw: RawJob): JobRow {
    if (raw.attempts === 1 && raw.created_at && raw.started_at) {
      const waited = new Date(raw.started_at).getTime() - new Date(raw.created_at).getTime();
      this.options.metrics?.jobStarted(raw.type, waited / 1000);
    }
    return toJobRow(raw);
  }

  /** The assignments that make a job this worker's: one claim shape for every way a job is claimed. */
  private claimedBy() {
    return sql`status = 'running', locked_by = ${this.workerId}, locked_until = ${this.leaseEnd()},
               attempts = attempts + 1, started_at = coalesce(started_at, now()), updated_at = now()`;
  }

  private leaseEnd() {
    return sql`now() + ${`${this.options.leaseMs} milliseconds`}::interval`;
  }

  /** Runs a claimed job to an outcome. Never throws: bookkeeping failures are logged and reported as `lost`. */
  async run(job: JobRow, controller: AbortController): Promise<RunOutcome> {
    let outcome: RunOutcome;
    try {
      outcome = await this.execute(job, controller);
    } catch (error) {
      this.options.log.error({ err: error, job_id: job.id }, 'job bookkeeping failed');
      outcome = { kind: 'lost' };
    }
    this.options.metrics?.jobRan(job.type, outcome.kind);
    return outcome;
  }

  private async execute(job: JobRow, controller: AbortController): Promise<RunOutcome> {
    const handler = this.options.registry.get(job.type)!;
    // Heartbeats and progress writes run beside the job; the run ends only after them, so that
    // once a queue has stopped nothing of its jobs still uses the database being closed.
    const writes = new Set<Promise<void>>();
    const track = (write: Promise<void>) => {
      writes.add(write);
      void write.finally(() => writes.delete(write));
    };
    const heartbeat = setInterval(
      () => track(this.heartbeat(job.id, controller)),
      Math.max(100, this.options.leaseMs / 3),
    );
    const deadline = this.options.timeoutMs
      ? setTimeout(() => controller.abort(new JobInterrupted('timeout')), this.options.timeoutMs)
      : undefined;
    let seq = job.attempts * SEQ_PER_ATTEMPT;
    let lastProgressWrite = 0;
    let lastPercent = job.progress;
    const progress = (percent: number) => {
      const value = Math.max(0, Math.min(100, Math.round(percent)));
      if (value === lastPercent) return;
      lastPercent = value;
      this.options.events.progress(job.id, value, ++seq);
      if (Date.now() - lastProgressWrite < PROGRESS_WRITE_MS) return;
      lastProgressWrite = Date.now();
      track(this.writeProgress(job, handler, value));
    };
    try {
      const payload = handler.parse(job.payload, job.payloadVersion);
      const partial = (data: Record<string, unknown>) => this.options.events.partial(job.id, data, ++seq);
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
      if (!committed) {
        this.options.log.warn({ job_id: job.id }, 'job finished after losing its lease; result discarded');
        return { kind: 'lost' };
      }
      this.options.events.settled(job.id, 'completed');
      return { kind: 'completed' };
    } catch (error) {
      return await this.fail(job, handler, controller.signal, error);
    } finally {
      clearInterval(heartbeat);
      clearTimeout(deadline);
      await Promise.all(writes);
    }
  }

  private async fail(job: JobRow, handler: JobHandler, signal: AbortSignal, error: unknown): Promise<RunOutcome> {
    const reason: unknown = signal.aborted ? signal.reason : undefined;
    if (reason instanceof JobInterrupted && (reason.why === 'shutdown' || reason.why === 'lease_lost')) {
      // Shutdown or lost lease: not the job's fault. Hand it back without spending the attempt.
      const released = await asSystem(this.options.db, 'release an interrupted job', (tx) =>
        queryRows<{ id: string }>(
          tx,
          sql`update jobs set status = 'queued', locked_by = null, locked_until = null,
                     attempts = greatest(attempts - 1, 0), updated_at = now()
              where id = ${job.id} and status = 'running' and locked_by = ${this.workerId}
              returning id`,
        ),
      );
      this.options.log.info({ job_id: job.id, why: reason.why }, 'job interrupted; it will resume');
      return released.length > 0 ? { kind: 'released' } : { kind: 'lost' };
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
    const delayMs = settlement.status === 'retrying' ? (this.options.retryDelayMs ?? retryDelayMs)(settlement.attempt) : 0;
    const settled = await asSystem(this.options.db, 'record a failed job', async (tx) => {
      const [owned] = await queryRows<{ id: string }>(
        tx,
        sql`select id from jobs where id = ${job.id} and status = 'running' and locked_by = ${this.workerId} for update`,
      );
      if (!owned) return false;
      await this.settle(tx, job, handler, settlement, delayMs);
      return true;
    });
    if (!settled) return { kind: 'lost' };
    switch (settlement.status) {
      case 'retrying':
        this.options.log.warn({ job_id: job.id, attempt: job.attempts, err: error }, 'job failed; will retry');
        return { kind: 'retrying', error: settlement.error, delayMs };
      case 'failed':
        this.options.log.warn({ job_id: job.id, err: error }, 'job failed');
        this.options.events.settled(job.id, 'failed');
        return { kind: 'failed', error: settlement.error, code: settlement.code };
      case 'cancelled':
        this.options.events.settled(job.id, 'cancelled');
        return { kind: 'cancelled' };
    }
  }

  /** Writes a job's final (or retry) state and lets its handler mirror it, in one transaction. */
  async settle(
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

  private async heartbeat(jobId: string, controller: AbortController): Promise<void> {
    try {
      const [row] = await asSystem(this.options.db, 'renew a job lease', (tx) =>
        queryRows<{ cancel_requested: boolean }>(
          tx,
          sql`update jobs set locked_until = ${this.leaseEnd()}
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

function workerLost(): JobSettlement {
  return {
    status: 'failed',
    error: 'The worker running this job stopped unexpectedly, and no attempts are left',
    code: 'worker_lost',
  };
}
