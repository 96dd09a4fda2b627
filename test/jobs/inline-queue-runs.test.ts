import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from '../../src/db/client.js';
import { newId } from '../../src/db/ids.js';
import { asSystem } from '../../src/db/scope.js';
import { JobInterrupted, PermanentJobError } from '../../src/jobs/types.js';
import {
  describeInlineQueue,
  gate,
  pause,
  POLL_MS,
  succeed,
  TEST_TIMEOUT,
  TestHandler,
  untilAborted,
  waitFor,
} from './inline-queue-fixture.js';

/*
 * InlineJobQueue running jobs to their end: side by side, with progress, through retries and
 * their backoff, permanent errors, timeouts and maxAttempts.
 */

describeInlineQueue('InlineJobQueue', (fx) => {
  const { db, userId, makeQueue, settledEvents, enqueue, jobState, waitForStatus, makeDue, effects, effectsOf } = fx;

  test('start() refuses while queued jobs of a type no handler serves are waiting', TEST_TIMEOUT, async () => {
    await asSystem(db(), 'test: a job nobody can run', (tx) =>
      tx.execute(sql`insert into jobs (id, user_id, type, payload, status)
                     values (${newId()}, ${userId()}, 'mystery', '{}'::jsonb, 'queued')`),
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
});
