import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { DelayedError, Queue, QueueEvents, QueueEventsProducer, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { sql } from 'drizzle-orm';
import { queryRows, type AppDatabase, type Tx } from '../db/client.js';
import { asSystem } from '../db/scope.js';
import { errors } from '../http/errors.js';
import type { EnqueueSpec, JobEvents, JobQueue } from './queue.js';
import type { JobRegistry } from './registry.js';
import { settlesWithin, Waker } from './waker.js';
import { connectRedis, isRedisReady } from './redis.js';
import type { JobMetrics } from '../metrics/metrics.js';
import { JobRunner, type JobLog, type RunOutcome } from './runner.js';
import { JobInterrupted, type JobStatus } from './types.js';
import { retryDelayMs } from './failures.js';

export interface BullQueueOptions {
  db: AppDatabase;
  registry: JobRegistry;
  redisUrl: string;
  /** Redis key prefix; deployments sharing a Redis use different ones. */
  prefix: string;
  concurrency: number;
  /** False: enqueue and follow events only (an API process in front of `npm run worker` processes). */
  runWorkers: boolean;
  log: JobLog;
  /** A worker silent for this long is presumed dead (BullMQ lock and database lease alike). */
  leaseMs: number;
  timeoutMs?: number;
  /** How often rows left in the outbox (their process died before handing them over) are looked for. */
  pollMs?: number;
  retryDelayMs?: (attempt: number) => number;
  metrics?: JobMetrics;
  /**
   * Follow every job's events through Redis (default true): what an API process needs for live
   * progress. Worker-only processes leave it off and save reading the whole event stream.
   */
  followEvents?: boolean;
}

export const QUEUE_NAME = 'jobs';
const EVENT_NAME = 'transcribo';
const MAX_STREAM_EVENTS = 10_000;
const DISPATCH_BATCH = 500;
/** How long a job waits before another try when its bookkeeping (the database) failed. */
const INFRA_RETRY_MS = 5_000;
const QUEUE_RETRY_AFTER_S = 5;

type Final = Extract<JobStatus, 'completed' | 'failed' | 'cancelled'>;
type EventKind = 'progress' | 'partial' | 'settled';
const FINAL = new Set(['completed', 'failed', 'cancelled']);
/** Job ids whose final event this process already passed on; BullMQ and we may both report one. */
const SETTLED_MEMORY = 10_000;

/** What a finished BullMQ job returns: the status the job's row ended in (or why it did not run). */
interface ProcessResult {
  status: string;
}

/** A failure worth another attempt; carries the delay the runner chose (and wrote to the row). */
class RetryLater extends Error {
  constructor(
    message: string,
    readonly delayMs: number,
  ) {
    super(message);
    this.name = 'RetryLater';
  }
}

/**
 * The distributed queue. Job rows stay the truth (status, attempts, result); BullMQ carries them
 * to workers in any process, detects stalled workers and schedules retries. A row is handed to
 * Redis only after the transaction that wrote it commits (the row is the outbox), so a job exists
 * in Redis only if it exists in the database, and one lost from Redis is handed over again.
 */
export class BullJobQueue extends EventEmitter<JobEvents> implements JobQueue {
  readonly kind = 'bullmq' as const;
  /** For the admin dashboard. */
  readonly queue: Queue;
  private readonly instanceId = randomUUID();
  private readonly connection: Redis;
  /** Connections handed to BullMQ: it does not close connections it was given, so we do. */
  private readonly extraConnections: Redis[] = [];
  private readonly producer: QueueEventsProducer;
  private readonly runner: JobRunner;
  private readonly pollMs: number;
  private readonly active = new Map<string, AbortController>();
  /** Jobs inside process(): their final status reaches other processes as BullMQ's own completion event. */
  private readonly processing = new Set<string>();
  private readonly settledIds = new Set<string>();
  private readonly cancelChannel: string;
  private queueEvents: QueueEvents | null = null;
  private subscriber: Redis | null = null;
  private worker: Worker | null = null;
  private running = false;
  /** Set once stop()'s grace period is over: every running job is being interrupted. */
  private interrupting = false;
  private loop: Promise<void> | null = null;
  private readonly waker = new Waker();
  private redisWasDown = false;

  constructor(private readonly options: BullQueueOptions) {
    super();
    this.pollMs = options.pollMs ?? 1_000;
    this.cancelChannel = `${options.prefix}:${QUEUE_NAME}:cancel`;
    this.connection = connectRedis(options.redisUrl, 'queue', options.log, { failFast: true });
    this.connection.on('close', () => {
      this.redisWasDown = true;
    });
    this.connection.on('ready', () => {
      if (!this.redisWasDown) return;
      this.redisWasDown = false;
      options.log.info({}, 'Redis is back; handing queued jobs over again');
      void this.redispatchAll();
    });
    const shared = { connection: this.connection, prefix: options.prefix };
    this.queue = new Queue(QUEUE_NAME, shared);
    this.producer = new QueueEventsProducer(QUEUE_NAME, shared);
    const onError = (error: Error) => options.log.warn({ err: error }, 'queue error');
    this.queue.on('error', onError);
    this.producer.on('error', onError);
    this.runner = new JobRunner({
      db: options.db,
      registry: options.registry,
      workerId: `bullmq-${process.pid}-${this.instanceId.slice(0, 8)}`,
      leaseMs: options.leaseMs,
      timeoutMs: options.timeoutMs,
      log: options.log,
      metrics: options.metrics,
      retryDelayMs: options.retryDelayMs,
      events: {
        progress: (jobId, percent, seq) => this.announce(jobId, 'progress', { progress: percent }, seq),
        partial: (jobId, data, seq) => this.announce(jobId, 'partial', data, seq),
        settled: (jobId, status) =>
          this.processing.has(jobId) ? this.deliver(jobId, 'settled', { status }, 0) : this.announce(jobId, 'settled', { status }, 0),
      },
    });
  }

  async enqueue(tx: Tx, spec: EnqueueSpec): Promise<void> {
    await this.runner.insert(tx, spec);
  }

  assertAvailable(): void {
    if (!isRedisReady(this.connection)) {
      throw errors.unavailable('The job queue (Redis) is unreachable; try again shortly', QUEUE_RETRY_AFTER_S);
    }
  }

  /** Readiness: Redis answers. */
  async ping(): Promise<void> {
    try {
      await this.connection.ping();
    } catch (error) {
      throw new Error(`Redis is unreachable: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }

  wake(): void {
    this.waker.wake();
  }

  async start(): Promise<void> {
    if (this.running) return;
    await this.runner.refuseUnknownTypes();
    if (this.options.followEvents !== false) this.followEvents();
    if (this.options.runWorkers) {
      this.worker = new Worker(QUEUE_NAME, (job, token) => this.process(job, token), {
        connection: this.blockingConnection(),
        prefix: this.options.prefix,
        concurrency: this.options.concurrency,
        lockDuration: this.options.leaseMs,
        stalledInterval: Math.max(500, Math.round(this.options.leaseMs / 2)),
        // Rows count attempts (a stalled run is one); the row's limit decides, not BullMQ's stall count.
        maxStalledCount: 1_000,
        settings: {
          backoffStrategy: (attemptsMade: number, _type?: string, error?: Error) =>
            error instanceof RetryLater ? error.delayMs : retryDelayMs(attemptsMade),
        },
      });
      this.worker.on('error', (error: Error) => this.options.log.warn({ err: error }, 'queue worker error'));
      // Cancellation must reach the worker running the job at once: a plain pub/sub message.
      this.subscriber = this.blockingConnection();
      this.subscriber.on('message', (_channel: string, jobId: string) =>
        this.active.get(jobId)?.abort(new JobInterrupted('cancelled')),
      );
      void this.subscriber.subscribe(this.cancelChannel).catch((error: unknown) =>
        this.options.log.warn({ err: error }, 'could not subscribe to cancellations'),
      );
    }
    this.running = true;
    this.loop = this.maintain();
  }

  async stop(graceMs: number): Promise<void> {
    this.running = false;
    this.wake();
    await this.loop;
    if (this.worker) {
      const closing = this.worker.close();
      if (!(await settlesWithin(closing, graceMs))) {
        // Each interrupted job is handed back (moveToDelayed) without spending its attempt.
        this.interrupting = true;
        for (const controller of this.active.values()) controller.abort(new JobInterrupted('shutdown'));
        await closing;
      }
    }
    await this.queueEvents?.close();
    await this.producer.close();
    await this.queue.close();
    for (const connection of [this.connection, ...this.extraConnections]) connection.disconnect();
  }

  /** Workers and event readers block on Redis: they must wait out an outage, not fail fast. */
  private blockingConnection(): Redis {
    const connection = this.connection.duplicate({ maxRetriesPerRequest: null, enableOfflineQueue: true });
    connection.on('error', () => undefined);
    this.extraConnections.push(connection);
    return connection;
  }

  async cancel(jobId: string): Promise<void> {
    if (await this.runner.requestCancel(jobId)) {
      // Tidies Redis; a job already taken by a worker is settled there when it sees the row.
      await this.queue.remove(jobId).catch(() => undefined);
      return;
    }
    const local = this.active.get(jobId);
    if (local) {
      local.abort(new JobInterrupted('cancelled'));
      return;
    }
    // Running elsewhere: tell every process. If Redis is down, the worker's next heartbeat sees the flag.
    await this.connection.publish(this.cancelChannel, jobId).catch(() => undefined);
  }

  /**
   * Hands queued rows that Redis has not seen to BullMQ, oldest first. The rows stay locked until
   * the handover is recorded; a crash in between only repeats it, and BullMQ ignores a job id it holds.
   */
  async dispatch(): Promise<number> {
    let total = 0;
    for (;;) {
      const handed = await asSystem(this.options.db, 'hand queued jobs to Redis', async (tx) => {
        const rows = await queryRows<{ id: string; type: string; max_attempts: number; delay_ms: number }>(
          tx,
          sql`select id, type, max_attempts,
                     greatest(0, extract(epoch from run_after - now()) * 1000)::int as delay_ms
              from jobs where status = 'queued' and dispatched_at is null and not cancel_requested
              order by id limit ${DISPATCH_BATCH} for update skip locked`,
        );
        if (rows.length === 0) return 0;
        await this.queue.addBulk(
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

  /** After Redis comes back (perhaps empty), every queued row is handed over again; known ids are ignored. */
  private async redispatchAll(): Promise<void> {
    try {
      await asSystem(this.options.db, 'hand queued jobs to Redis again', (tx) =>
        tx.execute(sql`update jobs set dispatched_at = null where status = 'queued' and dispatched_at is not null`),
      );
      this.wake();
    } catch (error) {
      this.options.log.warn({ err: error }, 'could not re-dispatch queued jobs');
    }
  }

  /** The outbox, expired leases and cancellations of jobs between workers: every process helps. */
  private async maintain(): Promise<void> {
    let lastReclaim = Date.now();
    while (this.running) {
      try {
        if (isRedisReady(this.connection)) await this.dispatch();
        await this.runner.settleCancelRequests();
        if (Date.now() - lastReclaim > this.options.leaseMs) {
          lastReclaim = Date.now();
          if ((await this.runner.reclaim()).length > 0) continue;
        }
      } catch (error) {
        this.options.log.warn({ err: error }, 'queue upkeep failed; retrying');
      }
      if (this.running) await this.waker.sleep(this.pollMs);
    }
  }

  private async process(job: Job, token?: string): Promise<ProcessResult> {
    this.processing.add(job.id!);
    try {
      return await this.claimAndRun(job, token);
    } finally {
      this.processing.delete(job.id!);
    }
  }

  private async claimAndRun(job: Job, token?: string): Promise<ProcessResult> {
    const jobId = job.id!;
    let claim: Awaited<ReturnType<JobRunner['claim']>>;
    try {
      claim = await this.runner.claim(jobId);
    } catch (error) {
      // The database is unreachable: try later, without spending one of the job's attempts.
      this.options.log.warn({ err: error, job_id: jobId }, 'could not claim a job; it will be tried again');
      await job.moveToDelayed(Date.now() + INFRA_RETRY_MS, token);
      throw new DelayedError();
    }
    if ('skip' in claim) return { status: claim.skip };
    const controller = new AbortController();
    this.active.set(jobId, controller);
    // Claimed while stop() was interrupting the others: handed back at once, the same way.
    if (this.interrupting) controller.abort(new JobInterrupted('shutdown'));
    let outcome: RunOutcome;
    try {
      outcome = await this.runner.run(claim.job, controller);
    } finally {
      this.active.delete(jobId);
    }
    return this.settleInBullMQ(job, token, outcome);
  }

  private async settleInBullMQ(job: Job, token: string | undefined, outcome: RunOutcome): Promise<ProcessResult> {
    switch (outcome.kind) {
      case 'completed':
      case 'cancelled':
      case 'lost':
        return { status: outcome.kind };
      case 'failed':
        throw new UnrecoverableError(`${outcome.code}: ${outcome.error}`);
      case 'retrying':
        throw new RetryLater(outcome.error, outcome.delayMs);
      case 'released':
        await job.moveToDelayed(Date.now(), token);
        throw new DelayedError();
    }
  }

  /** This process hears its own news at once; other processes through the queue's event stream. */
  private announce(jobId: string, kind: EventKind, data: Record<string, unknown>, seq: number): void {
    this.deliver(jobId, kind, data, seq);
    void this.publish(jobId, kind, data, seq).catch((error: unknown) =>
      this.options.log.warn({ err: error, job_id: jobId }, 'could not publish a job event'),
    );
  }

  private async publish(jobId: string, kind: EventKind, data: Record<string, unknown>, seq: number): Promise<void> {
    await this.producer.publishEvent(
      { eventName: EVENT_NAME, jobId, kind, seq: String(seq), origin: this.instanceId, data: JSON.stringify(data) },
      MAX_STREAM_EVENTS,
    );
  }

  /** Everyone's events: BullMQ's completions and failures, and our progress and segments. */
  private followEvents(): void {
    const events = new QueueEvents(QUEUE_NAME, { connection: this.blockingConnection(), prefix: this.options.prefix });
    events.on('error', (error: Error) => this.options.log.warn({ err: error }, 'queue events error'));
    events.on('completed', ({ jobId, returnvalue }) => {
      const status = (returnvalue as unknown as ProcessResult | null)?.status;
      if (status && FINAL.has(status)) this.deliver(jobId, 'settled', { status }, 0);
    });
    events.on('failed', ({ jobId }) => this.deliver(jobId, 'settled', { status: 'failed' }, 0));
    events.on(EVENT_NAME as 'error', (args: unknown) => this.onCustomEvent(args as Record<string, string>));
    this.queueEvents = events;
  }

  private onCustomEvent(args: Record<string, string>): void {
    const { jobId, kind, origin } = args;
    if (!jobId || origin === this.instanceId) return;
    try {
      this.deliver(jobId, kind as EventKind, JSON.parse(args.data ?? '{}') as Record<string, unknown>, Number(args.seq));
    } catch (error) {
      this.options.log.warn({ err: error }, 'unreadable job event');
    }
  }

  private deliver(jobId: string, kind: EventKind, data: Record<string, unknown>, seq: number): void {
    switch (kind) {
      case 'progress':
        this.emit('progress', jobId, Number(data.progress), seq);
        break;
      case 'partial':
        this.emit('partial', jobId, data, seq);
        break;
      case 'settled':
        if (this.settledIds.has(jobId)) return;
        this.settledIds.add(jobId);
        if (this.settledIds.size > SETTLED_MEMORY) this.settledIds.delete(this.settledIds.values().next().value!);
        this.emit('settled', jobId, data.status as Final);
        break;
    }
  }
}
