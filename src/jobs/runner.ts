import { sql } from 'drizzle-orm';
import { queryRows, type AppDatabase, type Tx } from '../db/client.js';
import type { JobMetrics } from '../metrics/metrics.js';
import { asSystem } from '../db/scope.js';
import type { EnqueueSpec } from './queue.js';
import type { JobRegistry } from './registry.js';
import { retryDelayMs } from './failures.js';
import { claimedBy, releaseJob, renewLease } from './job-lease.js';
import { recordProgress, runReporter } from './job-progress.js';
import { toJobRow, type RawJob } from './job-rows.js';
import { reclaimAbandoned, settleQueuedCancels } from './job-recovery.js';
import { recordCompletion, recordFailure, settleJob, workerLost } from './job-settlement.js';
import { failureSettlement, type RunOutcome } from './run-outcome.js';
import { JobInterrupted, type JobHandler, type JobRow, type JobStatus } from './types.js';

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
      await settleJob(tx, toJobRow(raw), this.options.registry.get(raw.type), { status: 'cancelled' });
      return true;
    });
    if (cancelledQueued) this.options.events.settled(jobId, 'cancelled');
    return cancelledQueued;
  }

  /** Requeues (or, out of attempts, fails) jobs whose worker died; returns the ids put back in the queue. */
  async reclaim(): Promise<string[]> {
    return reclaimAbandoned(this.options);
  }

  /** Settles cancels of jobs between workers, which no worker will claim again. */
  async settleCancelRequests(): Promise<void> {
    await settleQueuedCancels(this.options);
  }

  /** Claims the next runnable job of a known type, oldest first (the database is the queue). */
  async claimNext(): Promise<JobRow | null> {
    const types = this.options.registry.types();
    const [raw] = await asSystem(this.options.db, 'claim the next job', (tx) =>
      queryRows<RawJob>(
        tx,
        sql`update jobs set ${claimedBy(this.workerId, this.options.leaseMs)}
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
        sql`update jobs set ${claimedBy(this.workerId, this.options.leaseMs)}
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
        await settleJob(tx, toJobRow(current), handler, { status: 'cancelled' });
        return { skip: 'cancelled', settled: true };
      }
      if (current.status === 'running' && current.attempts >= current.max_attempts) {
        await settleJob(tx, toJobRow(current), handler, workerLost());
        return { skip: 'failed', settled: true };
      }
      if (current.status === 'running') {
        this.options.log.warn({ job_id: jobId, attempts: current.attempts }, 'took over a job whose worker stopped');
      }
      const claimed = await queryRows<RawJob>(
        tx,
        sql`update jobs set ${claimedBy(this.workerId, this.options.leaseMs)}
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
      () => track(renewLease(this.options, job.id, controller)),
      Math.max(100, this.options.leaseMs / 3),
    );
    const deadline = this.options.timeoutMs
      ? setTimeout(() => controller.abort(new JobInterrupted('timeout')), this.options.timeoutMs)
      : undefined;
    const { progress, partial } = runReporter(job, this.options.events, (percent) =>
      track(recordProgress(this.options, job, handler, percent)),
    );
    try {
      const payload = handler.parse(job.payload, job.payloadVersion);
      const success = await handler.run({ job, payload, signal: controller.signal, progress, partial });
      // A handler that finished despite its signal: the interruption wins, nothing is committed.
      if (controller.signal.aborted) throw controller.signal.reason;
      if (!(await recordCompletion(this.options, job, success))) {
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
      const released = await releaseJob(this.options, job.id);
      this.options.log.info({ job_id: job.id, why: reason.why }, 'job interrupted; it will resume');
      return released ? { kind: 'released' } : { kind: 'lost' };
    }
    const settlement = failureSettlement(job, reason, error, this.options.timeoutMs);
    const delayMs = settlement.status === 'retrying' ? (this.options.retryDelayMs ?? retryDelayMs)(settlement.attempt) : 0;
    if (!(await recordFailure(this.options, job, handler, settlement, delayMs))) return { kind: 'lost' };
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
}
