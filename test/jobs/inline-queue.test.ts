import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { queryRows, sql, type AppDatabase, type Tx } from '../../src/db/client.js';
import { newId } from '../../src/db/ids.js';
import { asSystem } from '../../src/db/scope.js';
import { InlineJobQueue, type InlineQueueOptions } from '../../src/jobs/inline-queue.js';
import { JobRegistry } from '../../src/jobs/registry.js';
import {
  JobInterrupted,
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
 * The embedded queue on its own: small handlers defined here record what the queue asks of them,
 * and their results land in a table of this test (test_effects), written in commit(tx), so
 * "written exactly once" can be counted. Every suite runs against PGlite and PostgreSQL.
 */

const POLL_MS = 50;
const LEASE_MS = 600;
const TEST_TIMEOUT = { timeout: 20_000 };

interface Payload {
  n: number;
}

type Behaviour = (ctx: JobContext<Payload>, handler: TestHandler) => Promise<JobSuccess>;

/** A 'transcription' handler (the only JOB_TYPES entry) whose run() is whatever the test says. */
class TestHandler implements JobHandler<Payload> {
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
function succeed(ctx: JobContext<Payload>, result: Record<string, unknown> = { n: ctx.payload.n }): JobSuccess {
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
function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    if (signal.aborted) reject(abortReason(signal));
    else signal.addEventListener('abort', () => reject(abortReason(signal)), { once: true });
  });
}

/** Waits `ms`, or rejects with the signal's reason if it fires first. */
async function pause(ms: number, signal: AbortSignal): Promise<void> {
  await Promise.race([sleep(ms), untilAborted(signal)]);
}

interface Gate {
  promise: Promise<void>;
  open(): void;
}

function gate(): Gate {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

async function waitFor<T>(what: string, probe: () => Promise<T> | T, timeoutMs = 5_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

interface JobState {
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

interface LogEntry {
  level: 'info' | 'warn' | 'error';
  obj: object;
  msg: string;
}

for (const kind of DB_KINDS) {
  describe(`InlineJobQueue [${kind}]`, () => {
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

    /** Records every 'settled' event of a queue. */
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

    /** A job row as a worker that died would have left it. */
    async function insertRunning(options: {
      lockedForMs: number;
      attempts: number;
      maxAttempts: number;
      cancelRequested?: boolean;
    }): Promise<string> {
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

    /** Makes a job waiting out its retry backoff due now, as if the delay had passed. */
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

    test('start() refuses while queued jobs of a type no handler serves are waiting', TEST_TIMEOUT, async () => {
      await asSystem(db(), 'test: a job nobody can run', (tx) =>
        tx.execute(sql`insert into jobs (id, user_id, type, payload, status)
                       values (${newId()}, ${userId}, 'mystery', '{}'::jsonb, 'queued')`),
      );
      const queue = makeQueue(new TestHandler(async (ctx) => succeed(ctx)));
      await assert.rejects(queue.start(), /mystery/);
    });

    test('runs jobs to completion, at most `concurrency` at once, committing each once', TEST_TIMEOUT, async () => {
      const handler = new TestHandler(async (ctx) => {
        await pause(120, ctx.signal);
        return succeed(ctx, { n: ctx.payload.n, doubled: ctx.payload.n * 2 });
      });
      const queue = makeQueue(handler, { concurrency: 2 });
      const events = settledEvents(queue);
      await queue.start();
      const ids: string[] = [];
      for (let n = 1; n <= 5; n++) ids.push(await enqueue(queue, n));

      await waitFor('5 settled events', () => events.length >= 5);
      await sleep(100); // any duplicate event would arrive now
      assert.equal(handler.maxActive, 2, 'two jobs ran side by side, never more');
      assert.deepEqual(
        events.map((e) => e.jobId).sort(),
        [...ids].sort(),
        'one settled event per job',
      );
      assert.ok(events.every((e) => e.status === 'completed'));
      const written = await effects();
      for (const [index, id] of ids.entries()) {
        const job = await jobState(id);
        assert.equal(job.status, 'completed');
        assert.equal(job.progress, 100);
        assert.equal(job.attempts, 1);
        assert.deepEqual(job.result, { n: index + 1, doubled: (index + 1) * 2 });
        assert.equal(job.error, null);
        assert.equal(job.locked_by, null);
        assert.ok(job.started_at && job.finished_at);
        assert.equal(written.get(id), 1, `job ${index + 1} committed exactly once`);
        assert.equal(handler.runsOf(id), 1);
      }
      assert.equal(written.size, 5);
      assert.deepEqual(handler.settlements, [], 'onSettled is for failures, cancellations and retries only');
    });

    test('progress reaches the job row while it runs, and onProgress mirrors it', TEST_TIMEOUT, async () => {
      const halfway = gate();
      const handler = new TestHandler(async (ctx) => {
        ctx.progress(10);
        await Promise.race([halfway.promise, untilAborted(ctx.signal)]);
        for (let p = 20; p <= 90; p += 10) ctx.progress(p);
        return succeed(ctx);
      });
      const queue = makeQueue(handler);
      const progressEvents: number[] = [];
      queue.on('progress', (_id, percent) => progressEvents.push(percent));
      await queue.start();
      const id = await enqueue(queue, 1);

      const running = await waitFor('progress 10 in the database', async () => {
        const job = await jobState(id);
        return job.progress === 10 ? job : null;
      });
      assert.equal(running.status, 'running');
      await waitFor('onProgress(10)', () => handler.progressCalls.length > 0);
      assert.deepEqual(handler.progressCalls[0], { jobId: id, percent: 10 });

      halfway.open();
      const done = await waitForStatus(id, 'completed');
      assert.equal(done.progress, 100);
      assert.deepEqual(progressEvents, [10, 20, 30, 40, 50, 60, 70, 80, 90]);
      assert.ok(
        handler.progressCalls.every((c) => c.jobId === id && c.percent >= 10 && c.percent <= 90),
        JSON.stringify(handler.progressCalls),
      );
      assert.equal(await effectsOf(id), 1);
    });

    test('a transient failure is retried with backoff until it succeeds', TEST_TIMEOUT, async () => {
      const handler = new TestHandler(async (ctx) => {
        if (ctx.job.attempts < 3) throw new Error(`flaky, attempt ${ctx.job.attempts}`);
        return succeed(ctx);
      });
      const queue = makeQueue(handler);
      const events = settledEvents(queue);
      await queue.start();
      const id = await enqueue(queue, 1, 3);

      for (const attempt of [1, 2]) {
        const waiting = await waitFor(`retry after attempt ${attempt}`, async () => {
          const job = await jobState(id);
          return job.status === 'queued' && job.attempts === attempt ? job : null;
        });
        // retryDelayMs: 2 s · 2^(attempt-1), ±25 % jitter.
        const base = 2_000 * 2 ** (attempt - 1);
        assert.ok(
          waiting.due_in_ms > base * 0.75 - 500 && waiting.due_in_ms <= base * 1.25 + 100,
          `run_after is about ${base} ms ahead, not ${waiting.due_in_ms} ms`,
        );
        assert.equal(waiting.locked_by, null);
        assert.equal(waiting.error, 'The job failed unexpectedly; see the server log');
        await sleep(2 * POLL_MS);
        assert.equal(handler.runsOf(id), attempt, 'not run again before run_after');
        await makeDue(queue, id);
      }

      const done = await waitForStatus(id, 'completed');
      assert.equal(done.attempts, 3);
      assert.equal(done.error, null);
      assert.deepEqual(handler.settlementsOf(id), [
        { status: 'retrying', error: 'The job failed unexpectedly; see the server log', attempt: 1 },
        { status: 'retrying', error: 'The job failed unexpectedly; see the server log', attempt: 2 },
      ]);
      assert.deepEqual(events, [{ jobId: id, status: 'completed' }]);
      assert.equal(await effectsOf(id), 1);
    });

    test('a PermanentJobError fails the job at once', TEST_TIMEOUT, async () => {
      const handler = new TestHandler(async () => {
        throw new PermanentJobError('The input makes no sense', 'validation_failed');
      });
      const queue = makeQueue(handler);
      const events = settledEvents(queue);
      await queue.start();
      const id = await enqueue(queue, 1, 3);

      const failed = await waitForStatus(id, 'failed');
      assert.equal(failed.error, 'The input makes no sense');
      assert.equal(failed.error_code, 'validation_failed');
      assert.equal(failed.attempts, 1);
      assert.equal(failed.locked_by, null);
      assert.ok(failed.finished_at);
      await waitFor('the settled event', () => events.length > 0);
      assert.deepEqual(events, [{ jobId: id, status: 'failed' }]);
      assert.deepEqual(handler.settlementsOf(id), [
        { status: 'failed', error: 'The input makes no sense', code: 'validation_failed' },
      ]);
      assert.equal(handler.runsOf(id), 1);
      assert.equal(await effectsOf(id), 0);
    });

    test('a job that outlives timeoutMs is stopped through its signal and fails with job_timeout', TEST_TIMEOUT, async () => {
      const handler = new TestHandler(async (ctx) => {
        await untilAborted(ctx.signal).catch(() => undefined);
        return succeed(ctx);
      });
      const queue = makeQueue(handler, { timeoutMs: 300 });
      await queue.start();
      const id = await enqueue(queue, 1, 3);

      const failed = await waitForStatus(id, 'failed');
      assert.equal(failed.error_code, 'job_timeout');
      assert.match(String(failed.error), /JOB_TIMEOUT_SECONDS/);
      assert.equal(failed.attempts, 1, 'a timeout is not retried');
      const reason = handler.interruptions.get(id);
      assert.ok(reason instanceof JobInterrupted && reason.why === 'timeout', String(reason));
      assert.equal(await effectsOf(id), 0, 'the late success is not committed');
    });

    test('transient failures that use up maxAttempts fail the job', TEST_TIMEOUT, async () => {
      const handler = new TestHandler(async () => {
        throw new Error('always broken');
      });
      const queue = makeQueue(handler);
      const events = settledEvents(queue);
      await queue.start();
      const id = await enqueue(queue, 1, 2);

      await waitFor('the first retry', async () => {
        const job = await jobState(id);
        return job.status === 'queued' && job.attempts === 1;
      });
      await makeDue(queue, id);
      const failed = await waitForStatus(id, 'failed');
      assert.equal(failed.attempts, 2);
      assert.equal(failed.error_code, 'internal_error');
      assert.deepEqual(
        handler.settlementsOf(id).map((s) => s.status),
        ['retrying', 'failed'],
      );
      await waitFor('the settled event', () => events.length > 0);
      assert.deepEqual(events, [{ jobId: id, status: 'failed' }]);
      assert.equal(handler.runsOf(id), 2);
    });

    test('cancel() of a queued job, before the queue starts, means it never runs', TEST_TIMEOUT, async () => {
      const handler = new TestHandler(async (ctx) => succeed(ctx));
      const queue = makeQueue(handler);
      const events = settledEvents(queue);
      const cancelled = await enqueue(queue, 1);
      await queue.cancel(cancelled);

      const job = await jobState(cancelled);
      assert.equal(job.status, 'cancelled');
      assert.ok(job.finished_at);
      assert.deepEqual(handler.settlementsOf(cancelled), [{ status: 'cancelled' }]);
      assert.deepEqual(events, [{ jobId: cancelled, status: 'cancelled' }]);

      await queue.start();
      const other = await enqueue(queue, 2);
      await waitForStatus(other, 'completed');
      assert.equal(handler.runsOf(cancelled), 0, 'the cancelled job never ran');
      assert.equal((await jobState(cancelled)).status, 'cancelled');
      assert.equal(await effectsOf(cancelled), 0);
    });

    test('cancel() of a job queued behind a busy worker means it never runs', TEST_TIMEOUT, async () => {
      const release = gate();
      const handler = new TestHandler(async (ctx) => {
        await Promise.race([release.promise, untilAborted(ctx.signal)]);
        return succeed(ctx);
      });
      const queue = makeQueue(handler, { concurrency: 1 });
      await queue.start();
      const busy = await enqueue(queue, 1);
      await waitFor('the first job to start', () => handler.runsOf(busy) === 1);
      const waiting = await enqueue(queue, 2);
      await sleep(2 * POLL_MS);
      assert.equal((await jobState(waiting)).status, 'queued');

      await queue.cancel(waiting);
      assert.equal((await jobState(waiting)).status, 'cancelled');
      release.open();
      await waitForStatus(busy, 'completed');
      await sleep(3 * POLL_MS);
      assert.equal(handler.runsOf(waiting), 0);
      assert.deepEqual(handler.settlementsOf(waiting), [{ status: 'cancelled' }]);
      assert.equal(await effectsOf(waiting), 0);
      assert.equal(await effectsOf(busy), 1);
    });

    test('cancel() of a running job aborts it with JobInterrupted("cancelled"); nothing is committed', TEST_TIMEOUT, async () => {
      // The handler would succeed the moment its signal fires if the queue let it: it must not.
      const handler = new TestHandler(async (ctx) => {
        await untilAborted(ctx.signal);
        return succeed(ctx);
      });
      const queue = makeQueue(handler);
      const events = settledEvents(queue);
      await queue.start();
      const id = await enqueue(queue, 1);
      await waitFor('the job to start', () => handler.runsOf(id) === 1);

      await queue.cancel(id);
      const job = await waitForStatus(id, 'cancelled');
      const reason = handler.interruptions.get(id);
      assert.ok(reason instanceof JobInterrupted, String(reason));
      assert.equal(reason.why, 'cancelled');
      assert.equal(job.attempts, 1);
      assert.equal(job.locked_by, null);
      await waitFor('the settled event', () => events.length > 0);
      assert.deepEqual(events, [{ jobId: id, status: 'cancelled' }]);
      assert.deepEqual(handler.settlementsOf(id), [{ status: 'cancelled' }]);
      assert.equal(await effectsOf(id), 0, 'commit never ran');
    });

    test('cancel() in one process stops the job another process runs', TEST_TIMEOUT, async () => {
      const handlerB = new TestHandler(async (ctx) => {
        await untilAborted(ctx.signal);
        return succeed(ctx);
      });
      const queueA = makeQueue(new TestHandler(async (ctx) => succeed(ctx)));
      const queueB = makeQueue(handlerB);
      const eventsB = settledEvents(queueB);
      await queueB.start();
      const id = await enqueue(queueA, 1);
      queueB.wake();
      await waitFor('process B to run the job', () => handlerB.runsOf(id) === 1);

      await queueA.cancel(id);
      assert.equal((await jobState(id)).cancel_requested, true);
      const job = await waitForStatus(id, 'cancelled', 3_000);
      const reason = handlerB.interruptions.get(id);
      assert.ok(reason instanceof JobInterrupted, String(reason));
      assert.equal(reason.why, 'cancelled');
      assert.equal(job.attempts, 1);
      assert.deepEqual(handlerB.settlementsOf(id), [{ status: 'cancelled' }]);
      await waitFor('B to report the cancellation', () => eventsB.length > 0);
      assert.deepEqual(eventsB, [{ jobId: id, status: 'cancelled' }]);
      assert.equal(await effectsOf(id), 0);
    });

    describe('jobs of a worker that died', () => {
      test('an expired lease is reclaimed at start and the job completes', TEST_TIMEOUT, async () => {
        const id = await insertRunning({ lockedForMs: -1_000, attempts: 1, maxAttempts: 3 });
        const handler = new TestHandler(async (ctx) => succeed(ctx));
        const queue = makeQueue(handler);
        await queue.start();

        const job = await waitForStatus(id, 'completed');
        assert.equal(job.attempts, 2);
        assert.equal(await effectsOf(id), 1);
        assert.deepEqual(handler.runs, [{ jobId: id, attempt: 2 }]);
        assert.ok(logs.some((l) => l.msg === 'recovered a job whose worker stopped'));
      });

      test('a job whose lease still runs is left alone until the lease expires', TEST_TIMEOUT, async () => {
        const id = await insertRunning({ lockedForMs: 1_500, attempts: 1, maxAttempts: 3 });
        const handler = new TestHandler(async (ctx) => succeed(ctx));
        const queue = makeQueue(handler);
        const startedAt = Date.now();
        await queue.start();

        await sleep(800);
        const held = await jobState(id);
        assert.equal(held.status, 'running');
        assert.equal(held.locked_by, 'dead-worker');
        assert.equal(handler.runsOf(id), 0);

        const job = await waitForStatus(id, 'completed', 5_000);
        assert.ok(Date.now() - startedAt >= 1_400, 'not taken before the lease expired');
        assert.equal(job.attempts, 2);
        assert.equal(await effectsOf(id), 1);
      });

      test('a dead job that used its last attempt fails with worker_lost', TEST_TIMEOUT, async () => {
        const id = await insertRunning({ lockedForMs: -1_000, attempts: 3, maxAttempts: 3 });
        const handler = new TestHandler(async (ctx) => succeed(ctx));
        const queue = makeQueue(handler);
        await queue.start();

        const job = await waitForStatus(id, 'failed');
        assert.equal(job.error_code, 'worker_lost');
        assert.equal(job.attempts, 3);
        assert.equal(job.locked_by, null);
        assert.deepEqual(
          handler.settlementsOf(id).map((s) => s.status),
          ['failed'],
        );
        await sleep(3 * POLL_MS);
        assert.equal(handler.runsOf(id), 0);
        assert.equal(await effectsOf(id), 0);
      });
    });

    test('stop() interrupts a job that outlasts the grace period; another queue completes it once', TEST_TIMEOUT, async () => {
      const slow = new TestHandler(async (ctx) => {
        await untilAborted(ctx.signal);
        return succeed(ctx);
      });
      const first = makeQueue(slow);
      await first.start();
      const id = await enqueue(first, 1);
      await waitFor('the job to start', () => slow.runsOf(id) === 1);

      await first.stop(100);
      const reason = slow.interruptions.get(id);
      assert.ok(reason instanceof JobInterrupted, String(reason));
      assert.equal(reason.why, 'shutdown');
      const released = await jobState(id);
      assert.equal(released.status, 'queued');
      assert.equal(released.attempts, 0, 'the interrupted attempt is not counted');
      assert.equal(released.locked_by, null);
      assert.deepEqual(slow.settlements, []);
      assert.equal(await effectsOf(id), 0, 'commit never ran');

      const quick = new TestHandler(async (ctx) => succeed(ctx));
      const second = makeQueue(quick);
      await second.start();
      const done = await waitForStatus(id, 'completed');
      assert.equal(done.attempts, 1);
      assert.equal(await effectsOf(id), 1);
      assert.equal(quick.runsOf(id), 1);
    });

    test('a job whose lease is taken over is aborted with lease_lost and its result discarded', TEST_TIMEOUT, async () => {
      // Returns a success even after its signal fired: only the queue can keep it from committing.
      const handler = new TestHandler(async (ctx) => {
        await untilAborted(ctx.signal).catch(() => undefined);
        return succeed(ctx);
      });
      const queue = makeQueue(handler);
      const events = settledEvents(queue);
      await queue.start();
      const id = await enqueue(queue, 1);
      await waitFor('the job to start', () => handler.runsOf(id) === 1);

      await asSystem(db(), 'test: another worker takes the job over', (tx) =>
        tx.execute(sql`update jobs set locked_by = 'thief', locked_until = now() + interval '1 hour' where id = ${id}`),
      );
      await waitFor('the signal to fire', () => handler.interruptions.has(id), 3_000);
      const reason = handler.interruptions.get(id);
      assert.ok(reason instanceof JobInterrupted, String(reason));
      assert.equal(reason.why, 'lease_lost');
      await waitFor('the interrupted job to be handed back', () =>
        logs.some((l) => l.msg === 'job interrupted; it will resume'),
      );

      const job = await jobState(id);
      assert.equal(job.status, 'running');
      assert.equal(job.locked_by, 'thief');
      assert.equal(job.result, null);
      assert.equal(await effectsOf(id), 0, 'the result was not committed');
      assert.deepEqual(handler.settlements, []);
      assert.deepEqual(events, []);
    });

    test('two queues on one database run each of 20 jobs exactly once', TEST_TIMEOUT, async () => {
      const behaviour: Behaviour = async (ctx) => {
        await pause(5 + Math.floor(Math.random() * 20), ctx.signal);
        return succeed(ctx);
      };
      const handlerA = new TestHandler(behaviour);
      const handlerB = new TestHandler(behaviour);
      const queueA = makeQueue(handlerA, { concurrency: 3 });
      const queueB = makeQueue(handlerB, { concurrency: 3 });
      const events = [...[queueA, queueB].map(settledEvents)];
      await Promise.all([queueA.start(), queueB.start()]);

      const ids: string[] = [];
      for (let n = 1; n <= 20; n++) {
        ids.push(await enqueue(n % 2 === 0 ? queueA : queueB, n));
        queueA.wake();
        queueB.wake();
      }
      await waitFor('20 settled events', () => events.flat().length >= 20, 10_000);
      await sleep(100);

      const written = await effects();
      assert.equal(written.size, 20);
      for (const id of ids) {
        assert.equal(written.get(id), 1, `job ${id} committed exactly once`);
        const job = await jobState(id);
        assert.equal(job.status, 'completed');
        assert.equal(job.attempts, 1);
      }
      assert.equal(handlerA.runs.length + handlerB.runs.length, 20, 'each job ran once in all');
      assert.deepEqual(
        events
          .flat()
          .map((e) => e.jobId)
          .sort(),
        [...ids].sort(),
      );
    });

    /*
     * A cancel request must end in 'cancelled' whatever else happens to the job. claim() skips
     * rows with cancel_requested, so any path that puts such a row back to 'queued' leaves a job
     * that neither runs nor gets cancelled.
     */
    describe('a cancel request is never lost', () => {
      test('a dead worker’s job with a pending cancel request is cancelled, not requeued forever', TEST_TIMEOUT, async () => {
        const id = await insertRunning({ lockedForMs: -1_000, attempts: 1, maxAttempts: 3, cancelRequested: true });
        const handler = new TestHandler(async (ctx) => succeed(ctx));
        const queue = makeQueue(handler);
        await queue.start();

        await waitForStatus(id, 'cancelled', 2_000);
        assert.equal(handler.runsOf(id), 0);
        assert.deepEqual(handler.settlementsOf(id), [{ status: 'cancelled' }]);
      });

      test('a cancel request that arrives as the worker shuts down is not lost', TEST_TIMEOUT, async () => {
        const handlerB = new TestHandler(async (ctx) => {
          await untilAborted(ctx.signal);
          return succeed(ctx);
        });
        const queueA = makeQueue(new TestHandler(async (ctx) => succeed(ctx)));
        // A long lease: B's heartbeat does not see the request before B shuts down.
        const queueB = makeQueue(handlerB, { leaseMs: 10_000 });
        await queueB.start();
        const id = await enqueue(queueB, 1);
        await waitFor('B to run the job', () => handlerB.runsOf(id) === 1);

        await queueA.cancel(id);
        await queueB.stop(0);
        const queueC = makeQueue(new TestHandler(async (ctx) => succeed(ctx)));
        await queueC.start();

        await waitForStatus(id, 'cancelled', 2_000);
        assert.equal(await effectsOf(id), 0);
      });

      test('a cancel request that arrives as the attempt fails transiently is not lost', TEST_TIMEOUT, async () => {
        const fail = gate();
        const handlerB = new TestHandler(async (ctx) => {
          await Promise.race([fail.promise, untilAborted(ctx.signal)]);
          throw new Error('transient');
        });
        const queueA = makeQueue(new TestHandler(async (ctx) => succeed(ctx)));
        const queueB = makeQueue(handlerB, { leaseMs: 10_000 });
        await queueB.start();
        const id = await enqueue(queueB, 1, 3);
        await waitFor('B to run the job', () => handlerB.runsOf(id) === 1);

        await queueA.cancel(id);
        fail.open();
        await waitFor('the attempt to end', async () => (await jobState(id)).status !== 'running');
        await makeDue(queueB, id);

        await waitForStatus(id, 'cancelled', 2_000);
        assert.equal(handlerB.runsOf(id), 1);
      });
    });
  });
}

describe('JobRegistry', () => {
  test('serves the handler of each type', () => {
    const handler = new TestHandler(async (ctx) => succeed(ctx));
    const registry = new JobRegistry([handler], ['transcription']);
    assert.equal(registry.get('transcription'), handler);
    assert.equal(registry.get('mystery'), undefined);
    assert.deepEqual(registry.types(), ['transcription']);
  });

  test('refuses a job type without a handler, naming it', () => {
    assert.throws(() => new JobRegistry([]), /job type "transcription" has no handler/);
    const handler = new TestHandler(async (ctx) => succeed(ctx));
    assert.throws(() => new JobRegistry([handler]), /job type "chat_completion" has no handler/, 'every JOB_TYPES entry is required by default');
  });

  test('refuses two handlers for one type', () => {
    const one = new TestHandler(async (ctx) => succeed(ctx));
    const two = new TestHandler(async (ctx) => succeed(ctx));
    assert.throws(() => new JobRegistry([one, two], ['transcription']), /job type "transcription" has two handlers/);
  });
});
