import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { AppDatabase, Tx } from '../db/client.js';
import type { EnqueueSpec, JobEvents, JobQueue } from './queue.js';
import type { JobRegistry } from './registry.js';
import { settlesWithin, Waker } from './waker.js';
import type { JobMetrics } from '../metrics/metrics.js';
import { JobRunner, type JobLog } from './runner.js';
import { JobInterrupted, type JobRow } from './types.js';

export interface InlineQueueOptions {
  db: AppDatabase;
  registry: JobRegistry;
  concurrency: number;
  log: JobLog;
  /** False: this process only enqueues; jobs run in worker processes on the same PostgreSQL. */
  runWorkers?: boolean;
  /** How long a claimed job stays ours without a heartbeat. */
  leaseMs?: number;
  /** How often idle workers look for work queued by other processes or due retries. */
  pollMs?: number;
  /** A running job is stopped after this long and fails (an engine that hangs must not hold a worker). */
  timeoutMs?: number;
  metrics?: JobMetrics;
}

/**
 * The embedded queue: a worker pool in this process whose every state change is a row update,
 * so a restart loses nothing. Safe with several processes on one PostgreSQL (SKIP LOCKED claims,
 * leases renewed by heartbeats, expired leases reclaimed).
 */
export class InlineJobQueue extends EventEmitter<JobEvents> implements JobQueue {
  readonly kind = 'inline' as const;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly runner: JobRunner;
  private readonly active = new Map<string, { controller: AbortController; done: Promise<void> }>();
  private running = false;
  private loop: Promise<void> | null = null;
  private readonly waker = new Waker();

  constructor(private readonly options: InlineQueueOptions) {
    super();
    this.leaseMs = options.leaseMs ?? 30_000;
    this.pollMs = options.pollMs ?? 1_000;
    this.runner = new JobRunner({
      db: options.db,
      registry: options.registry,
      workerId: `inline-${process.pid}-${randomUUID().slice(0, 8)}`,
      leaseMs: this.leaseMs,
      timeoutMs: options.timeoutMs,
      log: options.log,
      metrics: options.metrics,
      events: {
        progress: (jobId, percent, seq) => this.emit('progress', jobId, percent, seq),
        partial: (jobId, data, seq) => this.emit('partial', jobId, data, seq),
        settled: (jobId, status) => this.emit('settled', jobId, status),
      },
    });
  }

  async enqueue(tx: Tx, spec: EnqueueSpec): Promise<void> {
    await this.runner.insert(tx, spec);
  }

  /** The database is always there when this queue is: nothing to refuse. */
  assertAvailable(): void {}

  wake(): void {
    this.waker.wake();
  }

  async start(): Promise<void> {
    if (this.running || this.options.runWorkers === false) return;
    await this.runner.refuseUnknownTypes();
    await this.runner.reclaim();
    this.running = true;
    this.loop = this.work();
  }

  async stop(graceMs: number): Promise<void> {
    this.running = false;
    this.wake();
    // No job starts after the loop has ended, so `active` is complete from here on.
    await this.loop;
    const finished = Promise.all([...this.active.values()].map((p) => p.done));
    if (!(await settlesWithin(finished, graceMs))) {
      // The runner hands each interrupted job back without spending its attempt.
      for (const { controller } of this.active.values()) controller.abort(new JobInterrupted('shutdown'));
      await finished;
    }
  }

  async cancel(jobId: string): Promise<void> {
    if (await this.runner.requestCancel(jobId)) return;
    this.active.get(jobId)?.controller.abort(new JobInterrupted('cancelled'));
  }

  private async work(): Promise<void> {
    let lastReclaim = Date.now();
    while (this.running) {
      try {
        if (Date.now() - lastReclaim > this.leaseMs) {
          lastReclaim = Date.now();
          await this.runner.reclaim();
        }
        await this.runner.settleCancelRequests();
        if (this.active.size < this.options.concurrency) {
          const job = await this.runner.claimNext();
          if (job) {
            this.launch(job);
            continue;
          }
        }
      } catch (error) {
        this.options.log.error({ err: error }, 'job loop error; retrying');
      }
      if (this.running) await this.waker.sleep(this.pollMs);
    }
  }

  private launch(job: JobRow): void {
    const controller = new AbortController();
    const done = this.runner
      .run(job, controller)
      .then(() => undefined)
      .finally(() => {
        this.active.delete(job.id);
        this.wake();
      });
    this.active.set(job.id, { controller, done });
  }
}
