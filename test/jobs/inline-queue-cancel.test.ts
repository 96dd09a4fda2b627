import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { JobInterrupted } from '../../src/jobs/types.js';
import {
  describeInlineQueue,
  gate,
  POLL_MS,
  succeed,
  TEST_TIMEOUT,
  TestHandler,
  untilAborted,
  waitFor,
} from './inline-queue-fixture.js';

/* InlineJobQueue.cancel(): of queued and running jobs, from this process or another one. */

describeInlineQueue('InlineJobQueue', (fx) => {
  const { makeQueue, settledEvents, enqueue, insertRunning, jobState, waitForStatus, makeDue, effectsOf } = fx;

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
