import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { Queue, QueueEvents, QueueEventsProducer, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { AppDatabase, Tx } from '../db/client.js';
import { errors } from '../http/errors.js';
import { dispatchQueued, forgetDispatches } from './bullmq-dispatch.js';
import { JobEventBridge } from './bullmq-events.js';
import { retryAfterInfraFailure, retrySettings, settleInBullMQ, type ProcessResult } from './bullmq-outcome.js';
import type { EnqueueSpec, JobEvents, JobQueue } from './queue.js';
import type { JobRegistry } from './registry.js';
import { settlesWithin, Waker } from './waker.js';
import { connectRedis, isRedisReady } from './redis.js';
import type { JobMetrics } from '../metrics/metrics.js';
import { JobRunner, type JobLog } from './runner.js';
import type { RunOutcome } from './run-outcome.js';
import { JobInterrupted } from './types.js';

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
const QUEUE_RETRY_AFTER_S = 5;

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
  private readonly bridge: JobEventBridge;
  private readonly runner: JobRunner;
  private readonly pollMs: number;
  private readonly active = new Map<string, AbortController>();
  /** Jobs inside process(): their final status reaches other processes as BullMQ's own completion event. */
  private readonly processing = new Set<string>();
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
    this.bridge = new JobEventBridge(this.producer, this.instanceId, options.log, this);
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
        progress: (jobId, percent, seq) => this.bridge.announce(jobId, 'progress', { progress: percent }, seq),
        partial: (jobId, data, seq) => this.bridge.announce(jobId, 'partial', data, seq),
        settled: (jobId, status) =>
          this.processing.has(jobId)
            ? this.bridge.deliver(jobId, 'settled', { status }, 0)
            : this.bridge.announce(jobId, 'settled', { status }, 0),
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
        ...retrySettings(this.options.leaseMs),
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

  /** Hands queued rows that Redis has not seen to BullMQ; returns how many. */
  async dispatch(): Promise<number> {
    return dispatchQueued(this.options.db, this.queue);
  }

  /** After Redis comes back (perhaps empty), every queued row is handed over again; known ids are ignored. */
  private async redispatchAll(): Promise<void> {
    try {
      await forgetDispatches(this.options.db);
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
      return retryAfterInfraFailure(job, token);
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
    return settleInBullMQ(job, token, outcome);
  }

  /** Everyone's events: BullMQ's completions and failures, and our progress and segments. */
  private followEvents(): void {
    const events = new QueueEvents(QUEUE_NAME, { connection: this.blockingConnection(), prefix: this.options.prefix });
    this.bridge.follow(events);
    this.queueEvents = events;
  }
}
