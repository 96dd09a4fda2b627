import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from '../../src/db/client.js';
import { asSystem } from '../../src/db/scope.js';
import { JobInterrupted } from '../../src/jobs/types.js';
import {
  describeInlineQueue,
  pause,
  POLL_MS,
  succeed,
  TEST_TIMEOUT,
  TestHandler,
  untilAborted,
  waitFor,
  type Behaviour,
} from './inline-queue-fixture.js';

/*
 * InlineJobQueue when workers stop or die: leases that expire or are taken over, stop() and its
 * grace period, and two queues sharing one database.
 */

describeInlineQueue('InlineJobQueue', (fx) => {
  const { db, logs, makeQueue, settledEvents, enqueue, insertRunning, jobState, waitForStatus, effects, effectsOf } = fx;

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
      assert.ok(logs().some((l) => l.msg === 'recovered a job whose worker stopped'));
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
      logs().some((l) => l.msg === 'job interrupted; it will resume'),
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
});
