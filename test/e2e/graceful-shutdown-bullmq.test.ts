/**
 * Graceful shutdown scaled out: an API process that runs no jobs and a `worker` process, on
 * PostgreSQL and Redis (BullMQ), with real sphinx transcriptions. A worker stopped with SIGTERM
 * hands its job back without spending an attempt; deleting a recording stops the engine in the
 * worker; an event stream open on the API does not hold the API's shutdown.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js';
import { redisSkipReason, TEST_REDIS_URL, testQueues } from '../helpers/redis.js';
import { isAlive } from '../helpers/processes.js';
import { readEventStream, startServer, startWorker, stopServer, tempDir, type Child, type RunningServer } from '../helpers/server-process.js';
import { ApiClient, assertCleanShutdown, assertEndedByShutdown, assertStopsCleanly, longRecording, terminate } from './shutdown-support.js';

const TIMEOUT = { timeout: 420_000 };
const redis = testQueues();

describe('graceful shutdown on PostgreSQL and Redis, with a worker process', { skip: redisSkipReason() }, () => {
  let testDb: TestDatabase;
  let pool: pg.Pool;
  let env: Record<string, string>;
  let wav = '';
  let api: RunningServer | undefined;
  let worker: Child | undefined;
  let client: ApiClient | undefined;
  let interrupted: { recordingId: string; jobId: string } | undefined;

  async function jobRow(id: string): Promise<{ status: string; attempts: number }> {
    const { rows } = await pool.query<{ status: string; attempts: number }>('select status, attempts from jobs where id = $1', [id]);
    assert.ok(rows[0], `job ${id} exists`);
    return rows[0];
  }

  before(async () => {
    wav = longRecording();
    testDb = await createTestDatabase();
    pool = new pg.Pool({ connectionString: testDb.url, max: 2 });
    env = {
      DATABASE_URL: testDb.url,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_PREFIX: redis.prefix,
      // Shared by both processes: the blobs the API stores are the ones the worker reads.
      DATA_DIR: tempDir('shared-data'),
      STT_ENGINE: 'sphinx',
      SECRET_KEY: 'shutdown-bullmq-secret-that-is-long-enough',
      LOG_LEVEL: 'info',
      // The worker's running jobs get half of it to finish: 2 s, far less than the long recording needs.
      SHUTDOWN_TIMEOUT_MS: '4000',
      RATE_LIMIT_MAX: '1000000',
    };
  });

  after(async () => {
    for (const child of [worker, api]) {
      if (child && child.proc.exitCode === null && child.proc.signalCode === null) await stopServer(child);
    }
    await pool?.end();
    await testDb?.drop();
    await redis.cleanup();
  });

  /** The API runs no jobs; its own shutdown budget is long, so a stream holding it would show. */
  const startApi = () => startServer(env.DATA_DIR!, { ...env, RUN_WORKERS: 'false', SHUTDOWN_TIMEOUT_MS: '120000' });

  test('deleting a recording stops the engine in the worker process and cancels the job', TIMEOUT, async () => {
    api = await startApi();
    worker = await startWorker(env);
    client = await ApiClient.register(api, 'shutdown-bullmq@example.com');
    const transcribing = await client.startTranscribing(wav, worker);

    await client.deleteMidTranscription(transcribing);
    assert.equal((await jobRow(transcribing.jobId)).status, 'cancelled');
  });

  test('SIGTERM to a worker mid-transcription: exit 0, the job queued again with its attempt not counted', TIMEOUT, async () => {
    assert.ok(client && worker, 'the earlier step did not complete');
    const running = worker;
    const { recordingId, jobId, engines } = await client.startTranscribing(wav, running);
    assert.deepEqual(await jobRow(jobId), { status: 'running', attempts: 1 });

    await terminate(running);
    assert.deepEqual(await jobRow(jobId), { status: 'queued', attempts: 0 }, running.output());
    assert.ok(!engines.some(isAlive), 'the engine stopped with the worker');
    assert.match(running.output(), /job interrupted; it will resume/);
    assertCleanShutdown(running);
    interrupted = { recordingId, jobId };
  });

  test('an event stream open on the API does not hold its shutdown open', TIMEOUT, async () => {
    assert.ok(client && api && interrupted, 'the earlier steps did not complete');
    const running = api;
    // No worker runs now: the handed-back job stays queued and its stream open.
    const stream = await readEventStream(`${running.base}/api/v1/jobs/${interrupted.jobId}/events`, { headers: client.auth });
    await stream.next('progress');
    assert.ok(!stream.isEnded(), 'the stream is open at SIGTERM');

    await terminate(running);
    await stream.ended;
    assertEndedByShutdown(stream);
    assertCleanShutdown(running);
  });

  test('a new worker completes the handed-back job once, on its first counted attempt', TIMEOUT, async () => {
    assert.ok(client && interrupted, 'the earlier steps did not complete');
    api = await startApi();
    client.server = api;
    worker = await startWorker(env);
    const job = await client.finished(interrupted.jobId);
    assert.equal(job.status, 'completed', JSON.stringify(job));
    assert.equal(job.attempts, 1, 'the attempt SIGTERM interrupted is not counted');
    await client.assertTranscribedOnce(interrupted.recordingId, job);

    for (const child of [worker, api]) await assertStopsCleanly(child);
  });
});
