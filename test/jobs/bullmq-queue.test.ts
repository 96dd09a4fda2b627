import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { queryRows, sql, type AppDatabase, type Tx } from '../../src/db/client.js';
import { newId } from '../../src/db/ids.js';
import { asSystem } from '../../src/db/scope.js';
import { AppError } from '../../src/http/errors.js';
import { BullJobQueue, type BullQueueOptions } from '../../src/jobs/bullmq-queue.js';
import { JobRegistry } from '../../src/jobs/registry.js';
import { JobInterrupted, PermanentJobError, type JobContext, type JobHandler, type JobSuccess } from '../../src/jobs/types.js';
import { createTestDatabase, DB_KINDS, type TestDatabase } from '../helpers/databases.js';
import { queueTestDatabase } from '../helpers/jobs.js';
import { freePort } from '../helpers/server-process.js';
import { redisSkipReason, TEST_REDIS_URL, testQueues, type TestQueues } from '../helpers/redis.js';

/*
 * The BullMQ queue against the real Redis (under a prefix of its own) and both databases. Handlers
 * defined here stand in for transcriptions; what they commit lands in test_effects, so "written
 * once" can be counted. Two queue objects on one prefix behave as two processes.
 */

const TEST_TIMEOUT = { timeout: 20_000 };
type Run = (ctx: JobContext<{ n: number }>) => Promise<JobSuccess>;

function handler(run: Run): JobHandler<{ n: number }> & { runs: string[]; reasons: unknown[] } {
  const runs: string[] = [];
  const reasons: unknown[] = [];
  return {
    type: 'transcription',
    version: 1,
    maxAttempts: 3,
    runs,
    reasons,
    parse: (payload) => ({ n: Number(payload.n) }),
    run: async (ctx) => {
      runs.push(ctx.job.id);
      ctx.signal.addEventListener('abort', () => reasons.push(ctx.signal.reason), { once: true });
      return run(ctx);
    },
    onSettled: async () => undefined,
  };
}

function succeed(ctx: JobContext<{ n: number }>): JobSuccess {
  return {
    result: { n: ctx.payload.n },
    commit: async (tx: Tx) => {
      await tx.execute(sql`insert into test_effects (job_id, n) values (${ctx.job.id}, ${ctx.payload.n})`);
    },
  };
}

async function until<T>(what: string, probe: () => Promise<T> | T, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

const quietLog = { info: () => undefined, warn: () => undefined, error: () => undefined };

for (const kind of DB_KINDS) {
  describe(`BullJobQueue [${kind}]`, { skip: redisSkipReason() }, () => {
    let testDb: TestDatabase | undefined;
    let redis: TestQueues;
    let userId = '';
    let queues: BullJobQueue[] = [];

    const db = (): AppDatabase => testDb!.database.db;

    before(async () => {
      ({ testDb, userId } = await queueTestDatabase(kind, 'bull'));
    });

    after(async () => {
      await testDb?.drop();
    });

    afterEach(async () => {
      await Promise.all(queues.map((q) => q.stop(0)));
      queues = [];
      await redis?.cleanup();
    });

    function makeQueue(h: JobHandler, options: Partial<BullQueueOptions> = {}): BullJobQueue {
      const queue = new BullJobQueue({
        db: db(),
        registry: new JobRegistry([h], ['transcription']),
        redisUrl: TEST_REDIS_URL,
        prefix: redis.prefix,
        concurrency: 2,
        runWorkers: true,
        log: quietLog,
        leaseMs: 30_000,
        pollMs: 100,
        retryDelayMs: () => 50,
        ...options,
      });
      queues.push(queue);
      return queue;
    }

    function fresh(): void {
      redis = testQueues();
    }

    async function enqueue(queue: BullJobQueue, n: number, maxAttempts = 3): Promise<string> {
      const id = newId();
      await asSystem(db(), 'test', (tx) =>
        queue.enqueue(tx, { id, userId, type: 'transcription', payload: { n }, payloadVersion: 1, maxAttempts }),
      );
      queue.wake();
      return id;
    }

    async function row(id: string) {
      const [found] = await asSystem(db(), 'test: read a job', (tx) =>
        queryRows<{ status: string; attempts: number; error_code: string | null; dispatched: boolean; started: boolean }>(
          tx,
          sql`select status, attempts, error_code, dispatched_at is not null as dispatched, started_at is not null as started
              from jobs where id = ${id}`,
        ),
      );
      return found!;
    }

    async function effectsOf(id: string): Promise<number> {
      const [found] = await asSystem(db(), 'test: count effects', (tx) =>
        queryRows<{ count: number }>(tx, sql`select count(*)::int as count from test_effects where job_id = ${id}`),
      );
      return found!.count;
    }

    const settledTo = (queue: BullJobQueue, id: string, status: string) =>
      until(`${id} ${status}`, async () => ((await row(id)).status === status ? true : null));

    test('a committed job goes to Redis after its transaction, runs once, and BullMQ records the outcome', TEST_TIMEOUT, async () => {
      fresh();
      const h = handler(async (ctx) => succeed(ctx));
      const queue = makeQueue(h);
      // A transaction that rolls back leaves nothing for Redis.
      const ghost = newId();
      await assert.rejects(
        asSystem(db(), 'test: rolled back', async (tx) => {
          await queue.enqueue(tx, { id: ghost, userId, type: 'transcription', payload: { n: 0 }, payloadVersion: 1, maxAttempts: 3 });
          throw new Error('roll back');
        }),
        /roll back/,
      );
      const id = await enqueue(queue, 7);
      assert.equal((await row(id)).dispatched, false, 'not handed over before the queue runs');
      await queue.start();
      await settledTo(queue, id, 'completed');
      assert.equal((await row(id)).dispatched, true);
      assert.equal(await effectsOf(id), 1);
      assert.deepEqual(h.runs, [id]);
      assert.equal(await queue.queue.getJob(ghost), undefined);
      const finished = await until('BullMQ completion', async () => {
        const job = await queue.queue.getJob(id);
        return job?.finishedOn ? job : null;
      });
      assert.deepEqual(finished.returnvalue, { status: 'completed' });
      assert.deepEqual(finished.data, {}, 'no payload in Redis');
    });

    test('transient failures retry through BullMQ until they succeed; a permanent one fails at once', TEST_TIMEOUT, async () => {
      fresh();
      const h = handler(async (ctx) => {
        if (ctx.payload.n === 0) throw new PermanentJobError('This input cannot work', 'validation_failed');
        if (ctx.job.attempts < 3) throw new Error('flaky');
        return succeed(ctx);
      });
      const queue = makeQueue(h);
      await queue.start();
      const flaky = await enqueue(queue, 1);
      const broken = await enqueue(queue, 0);
      await settledTo(queue, flaky, 'completed');
      await settledTo(queue, broken, 'failed');
      assert.equal((await row(flaky)).attempts, 3);
      assert.equal(await effectsOf(flaky), 1);
      const b = await row(broken);
      assert.equal(b.attempts, 1);
      assert.equal(b.error_code, 'validation_failed');
      const retried = await queue.queue.getJob(flaky);
      assert.equal(retried?.attemptsMade, 3, 'BullMQ made three attempts');
      assert.equal(retried?.stacktrace?.length, 2, 'two of them failed and were retried');
      const failed = await until('BullMQ failure', async () => {
        const job = await queue.queue.getJob(broken);
        return job?.failedReason ? job : null;
      });
      assert.match(failed.failedReason, /validation_failed/);
      assert.equal(h.runs.filter((r) => r === broken).length, 1);
    });

    test('transient failures that use up the attempts fail the job with the reason', TEST_TIMEOUT, async () => {
      fresh();
      const h = handler(async () => {
        throw new Error('always down');
      });
      const queue = makeQueue(h);
      await queue.start();
      const id = await enqueue(queue, 1, 2);
      await settledTo(queue, id, 'failed');
      const r = await row(id);
      assert.equal(r.attempts, 2);
      assert.equal(r.error_code, 'internal_error');
      assert.equal(h.runs.length, 2);
    });

    test('events and cancellation travel between processes through Redis', TEST_TIMEOUT, async () => {
      fresh();
      let started!: () => void;
      const running = new Promise<void>((resolve) => (started = resolve));
      const h = handler(async (ctx) => {
        ctx.progress(40);
        ctx.partial({ start: 0, end: 1, text: 'hello' });
        started();
        await new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error)));
        return succeed(ctx);
      });
      const worker = makeQueue(h);
      const api = makeQueue(handler(async (ctx) => succeed(ctx)), { runWorkers: false });
      const heard: string[] = [];
      api.on('progress', (jobId, percent, seq) => heard.push(`progress ${percent} ${seq}`));
      api.on('partial', (jobId, data, seq) => heard.push(`partial ${String(data.text)} ${seq}`));
      api.on('settled', (jobId, status) => heard.push(`settled ${status}`));
      await worker.start();
      await api.start();
      const id = await enqueue(api, 1);
      await running;
      await until('events at the API', () => heard.length >= 2 || null);
      // The lease (30 s) is far off: only the message through Redis can stop the job this soon.
      const asked = Date.now();
      await api.cancel(id);
      await settledTo(api, id, 'cancelled');
      assert.ok(Date.now() - asked < 5_000);
      assert.ok(h.reasons[0] instanceof JobInterrupted && h.reasons[0].why === 'cancelled');
      await until('settled event at the API', () => heard.includes('settled cancelled') || null);
      assert.deepEqual(heard, ['progress 40 1000001', 'partial hello 1000002', 'settled cancelled']);
      assert.equal(await effectsOf(id), 0);
    });

    test('a queued job cancelled before any worker takes it never runs', TEST_TIMEOUT, async () => {
      fresh();
      const h = handler(async (ctx) => succeed(ctx));
      const api = makeQueue(h, { runWorkers: false });
      await api.start();
      const id = await enqueue(api, 1);
      await until('handed to Redis', async () => (await row(id)).dispatched || null);
      await api.cancel(id);
      const worker = makeQueue(h);
      await worker.start();
      const follow = await enqueue(api, 2);
      await settledTo(worker, follow, 'completed');
      const r = await row(id);
      assert.equal(r.status, 'cancelled');
      assert.equal(r.started, false);
      assert.deepEqual(h.runs, [follow]);
    });

    test('a job of a worker that stopped mid-run is released and completed by another, once', TEST_TIMEOUT, async () => {
      fresh();
      let first = true;
      const h = handler(async (ctx) => {
        if (first) {
          first = false;
          await new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error)));
        }
        return succeed(ctx);
      });
      const a = makeQueue(h);
      await a.start();
      const id = await enqueue(a, 1);
      await until('first run', () => h.runs.length === 1 || null);
      const b = makeQueue(h);
      await b.start();
      // Grace 0: the running job is interrupted and handed back without spending its attempt.
      await a.stop(0);
      await settledTo(b, id, 'completed');
      assert.equal((await row(id)).attempts, 1, 'the interrupted attempt was given back');
      assert.equal(await effectsOf(id), 1);
      assert.ok(h.reasons[0] instanceof JobInterrupted && h.reasons[0].why === 'shutdown');
    });
  });
}

describe('BullJobQueue without Redis', () => {
  test('refuses queue work with 503 and Retry-After, and readiness names Redis', TEST_TIMEOUT, async () => {
    const testDb = await createTestDatabase();
    const port = await freePort();
    const queue = new BullJobQueue({
      db: testDb.database.db,
      registry: new JobRegistry([handler(async (ctx) => succeed(ctx))], ['transcription']),
      redisUrl: `redis://127.0.0.1:${port}`,
      prefix: 'nothing-listens',
      concurrency: 1,
      runWorkers: false,
      log: quietLog,
      leaseMs: 30_000,
    });
    try {
      await sleep(100);
      assert.throws(
        () => queue.assertAvailable(),
        (error: unknown) =>
          error instanceof AppError && error.status === 503 && /Redis/.test(error.message) && Number(error.headers?.['retry-after']) > 0,
      );
      await assert.rejects(queue.ping(), /Redis is unreachable/);
    } finally {
      await queue.stop(0);
      await testDb.drop();
    }
  });
});
