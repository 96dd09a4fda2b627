import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { queryRows, sql, type AppDatabase, type Tx } from '../../src/db/client.js';
import { newId } from '../../src/db/ids.js';
import { asSystem } from '../../src/db/scope.js';
import { InlineJobQueue, type InlineQueueOptions } from '../../src/jobs/inline-queue.js';
import { JobRegistry } from '../../src/jobs/registry.js';
import {
  PermanentJobError,
  type JobContext,
  type JobHandler,
  type JobRow,
  type JobSettlement,
  type JobSuccess,
} from '../../src/jobs/types.js';
import { DB_KINDS, type TestDatabase } from '../helpers/databases.js';
import { queueTestDatabase } from '../helpers/jobs.js';

/*
 * Shared by the inline-queue-*.test.ts suites and job-registry.test.ts: the embedded queue on its
 * own. Small handlers defined here record what the queue asks of them, and their results land in
 * a table of the test database (test_effects), written in commit(tx), so "written exactly once"
 * can be counted. describeInlineQueue runs a suite against every database kind.
 */

export const POLL_MS = 50;
const LEASE_MS = 600;
export const TEST_TIMEOUT = { timeout: 20_000 };

export interface Payload {
  n: number;
}

export type Behaviour = (ctx: JobContext<Payload>, handler: TestHandler) => Promise<JobSuccess>;

/** A 'transcription' handler (the only JOB_TYPES entry) whose run() is whatever the test says. */
export class TestHandler implements JobHandler<Payload> {
  readonly type = 'transcription' as const;
  readonly version = 1;
  readonly maxAttempts = 3;
  readonly runs: { jobId: string; attempt: number }[] = [];
  readonly settlements: { jobId: string; settlement: JobSettlement }[] = [];
  readonly progressCalls: { jobId: string; percent: number }[] = [];
  /** signal.reason of every run whose signal fired while it was running. */
  readonly interruptions = new Map<string, unknown>();
  active = 0;
  maxActive = 0;

  constructor(private readonly behaviour: Behaviour) {}

  parse(payload: Record<string, unknown>, version: number): Payload {
    if (version !== 1 || typeof payload.n !== 'number') throw new PermanentJobError('bad payload', 'invalid_payload');
    return { n: payload.n };
  }

  async run(ctx: JobContext<Payload>): Promise<JobSuccess> {
    this.runs.push({ jobId: ctx.job.id, attempt: ctx.job.attempts });
    this.active += 1;
    this.maxActive = Math.max(this.maxActive, this.active);
    const onAbort = () => this.interruptions.set(ctx.job.id, ctx.signal.reason);
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await this.behaviour(ctx, this);
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      this.active -= 1;
    }
  }

  async onProgress(_tx: Tx, job: JobRow, percent: number): Promise<void> {
    this.progressCalls.push({ jobId: job.id, percent });
  }

  async onSettled(_tx: Tx, job: JobRow, settlement: JobSettlement): Promise<void> {
    this.settlements.push({ jobId: job.id, settlement });
  }

  runsOf(jobId: string): number {
    return this.runs.filter((r) => r.jobId === jobId).length;
  }

  settlementsOf(jobId: string): JobSettlement[] {
    return this.settlements.filter((s) => s.jobId === jobId).map((s) => s.settlement);
  }
}

/** A success whose commit writes one test_effects row. */
export function succeed(ctx: JobContext<Payload>, result: Record<string, unknown> = { n: ctx.payload.n }): JobSuccess {
  return {
    result,
    commit: async (tx) => {
      await tx.execute(sql`insert into test_effects (job_id, n) values (${ctx.job.id}, ${ctx.payload.n})`);
    },
  };
}

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new Error(String(reason));
}

/** Rejects with the signal's reason once it fires. */
export function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    if (signal.aborted) reject(abortReason(signal));
    else signal.addEventListener('abort', () => reject(abortReason(signal)), { once: true });
  });
}

/** Waits `ms`, or rejects with the signal's reason if it fires first. */
export async function pause(ms: number, signal: AbortSignal): Promise<void> {
  await Promise.race([sleep(ms), untilAborted(signal)]);
}

export interface Gate {
  promise: Promise<void>;
  open(): void;
}

export function gate(): Gate {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

export async function waitFor<T>(what: string, probe: () => Promise<T> | T, timeoutMs = 5_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

export interface JobState {
  status: string;
  progress: number;
  attempts: number;
  max_attempts: number;
  result: Record<string, unknown> | null;
  error: string | null;
  error_code: string | null;
  locked_by: string | null;
  cancel_requested: boolean;
  started_at: unknown;
  finished_at: unknown;
  /** run_after - now(), in milliseconds. */
  due_in_ms: number;
}

export interface LogEntry {
  level: 'info' | 'warn' | 'error';
  obj: object;
  msg: string;
}

/** What a test chooses of the job row insertRunning writes. */
export interface DeadWorkerJob {
  /** Until when the dead worker's lease runs, from now; negative for a lease that has expired. */
  lockedForMs: number;
  attempts: number;
  maxAttempts: number;
  cancelRequested?: boolean;
}

/**
 * What the tests of a describeInlineQueue suite reach. userId and logs are getters: the owner only
 * exists once the suite's before() ran, and each test gets logs of its own.
 */
export interface InlineQueueFixture {
  db: () => AppDatabase;
  userId: () => string;
  logs: () => LogEntry[];
  /** Queues made here are stopped after each test, so a test may leave them running. */
  makeQueue: (handler: TestHandler, options?: Partial<InlineQueueOptions>) => InlineJobQueue;
  /** Records every 'settled' event of a queue. */
  settledEvents: (queue: InlineJobQueue) => { jobId: string; status: string }[];
  enqueue: (queue: InlineJobQueue, n: number, maxAttempts?: number) => Promise<string>;
  /** A job row as a worker that died would have left it. */
  insertRunning: (options: DeadWorkerJob) => Promise<string>;
  jobState: (id: string) => Promise<JobState>;
  waitForStatus: (id: string, status: string, timeoutMs?: number) => Promise<JobState>;
  /** Makes a job waiting out its retry backoff due now, as if the delay had passed. */
  makeDue: (queue: InlineJobQueue, id: string) => Promise<void>;
  /** How many test_effects rows each job committed. */
  effects: () => Promise<Map<string, number>>;
  effectsOf: (id: string) => Promise<number>;
}

/**
 * Registers `body`'s tests once per database kind, in `${name} [${kind}]`, on a test database
 * made for the suite. After each test its queues are stopped and the jobs and test_effects tables
 * emptied, so no test sees another's jobs.
 */
export function describeInlineQueue(name: string, body: (fx: InlineQueueFixture) => void): void {
  for (const kind of DB_KINDS) {
    describe(`${name} [${kind}]`, () => {
      let testDb: TestDatabase | undefined;
      let userId = '';
      let queues: InlineJobQueue[] = [];
      let logs: LogEntry[] = [];

      const db = (): AppDatabase => {
        if (!testDb) throw new Error('test database not created');
        return testDb.database.db;
      };

      before(async () => {
        ({ testDb, userId } = await queueTestDatabase(kind, 'jobs'));
      });

      after(async () => {
        await testDb?.drop();
      });

      beforeEach(() => {
        queues = [];
        logs = [];
      });

      afterEach(async () => {
        await Promise.all(queues.map((q) => q.stop(0)));
        await asSystem(db(), 'test: clean up', async (tx) => {
          await tx.execute(sql`delete from jobs`);
          await tx.execute(sql`delete from test_effects`);
        });
      });

      const log: InlineQueueOptions['log'] = {
        info: (obj, msg) => logs.push({ level: 'info', obj, msg }),
        warn: (obj, msg) => logs.push({ level: 'warn', obj, msg }),
        error: (obj, msg) => logs.push({ level: 'error', obj, msg }),
      };

      function makeQueue(handler: TestHandler, options: Partial<InlineQueueOptions> = {}): InlineJobQueue {
        const queue = new InlineJobQueue({
          db: db(),
          // Only the type these tests exercise is required of this registry.
          registry: new JobRegistry([handler], ['transcription']),
          concurrency: 1,
          log,
          pollMs: POLL_MS,
          leaseMs: LEASE_MS,
          ...options,
        });
        queues.push(queue);
        return queue;
      }

      function settledEvents(queue: InlineJobQueue): { jobId: string; status: string }[] {
        const events: { jobId: string; status: string }[] = [];
        queue.on('settled', (jobId, status) => events.push({ jobId, status }));
        return events;
      }

      async function enqueue(queue: InlineJobQueue, n: number, maxAttempts = 3): Promise<string> {
        const id = newId();
        await asSystem(db(), 'test', (tx) =>
          queue.enqueue(tx, { id, userId, type: 'transcription', payload: { n }, payloadVersion: 1, maxAttempts }),
        );
        queue.wake();
        return id;
      }

      async function insertRunning(options: DeadWorkerJob): Promise<string> {
        const id = newId();
        await asSystem(db(), 'test: a job of a dead worker', (tx) =>
          tx.execute(sql`insert into jobs (id, user_id, type, payload, status, attempts, max_attempts, locked_by,
                                           locked_until, started_at, cancel_requested)
                         values (${id}, ${userId}, 'transcription', '{"n": 7}'::jsonb, 'running', ${options.attempts},
                                 ${options.maxAttempts}, 'dead-worker',
                                 now() + ${`${options.lockedForMs} milliseconds`}::interval, now(),
                                 ${options.cancelRequested ?? false})`),
        );
        return id;
      }

      async function jobState(id: string): Promise<JobState> {
        const [row] = await asSystem(db(), 'test: read a job', (tx) =>
          queryRows<JobState>(
            tx,
            sql`select status, progress, attempts, max_attempts, result, error, error_code, locked_by, cancel_requested,
                       started_at, finished_at,
                       (extract(epoch from (run_after - now())) * 1000)::float8 as due_in_ms
                from jobs where id = ${id}`,
          ),
        );
        assert.ok(row, `job ${id} exists`);
        return row;
      }

      async function waitForStatus(id: string, status: string, timeoutMs = 5_000): Promise<JobState> {
        let last: JobState | undefined;
        try {
          return await waitFor(
            `job ${id} to be ${status}`,
            async () => {
              last = await jobState(id);
              return last.status === status ? last : null;
            },
            timeoutMs,
          );
        } catch (error) {
          throw new Error(`${(error as Error).message}; last state: ${JSON.stringify(last)}`, { cause: error });
        }
      }

      async function makeDue(queue: InlineJobQueue, id: string): Promise<void> {
        await asSystem(db(), 'test: skip the backoff', (tx) =>
          tx.execute(sql`update jobs set run_after = now() where id = ${id} and status = 'queued'`),
        );
        queue.wake();
      }

      async function effects(): Promise<Map<string, number>> {
        const rows = await asSystem(db(), 'test: count side effects', (tx) =>
          queryRows<{ job_id: string; count: number }>(
            tx,
            sql`select job_id, count(*)::int as count from test_effects group by job_id`,
          ),
        );
        return new Map(rows.map((r) => [r.job_id, r.count]));
      }

      async function effectsOf(id: string): Promise<number> {
        return (await effects()).get(id) ?? 0;
      }

      body({
        db,
        userId: () => userId,
        logs: () => logs,
        makeQueue,
        settledEvents,
        enqueue,
        insertRunning,
        jobState,
        waitForStatus,
        makeDue,
        effects,
        effectsOf,
      });
    });
  }
}
