/**
 * What closing the app and deleting a recording do to jobs and event streams, in process: the
 * engine is a stand-in that runs until its signal fires (the real engines are exercised end to end
 * in test/e2e/graceful-shutdown*.test.ts).
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildApp, type App } from '../../src/app.js';
import { queryRows, sql } from '../../src/db/client.js';
import { asSystem } from '../../src/db/scope.js';
import { JobInterrupted } from '../../src/jobs/types.js';
import { engineSet } from '../../src/transcription/engines/index.js';
import type { EngineResult, PcmAudio, TranscribeOptions, TranscriptionEngine } from '../../src/transcription/engines/engine.js';
import { testConfig } from '../helpers/config.js';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js';
import { bearer, registerUser, uploadClip, type TestUser } from '../helpers/factory.js';
import { stallingLlm, type FakeServer } from '../helpers/fake-llm.js';
import { redisSkipReason, TEST_REDIS_URL, testQueues } from '../helpers/redis.js';
import { readEventStream, waitUntil } from '../helpers/server-process.js';

/** An engine that works until its signal fires, and remembers why it stopped. */
class EngineUntilAborted implements TranscriptionEngine {
  readonly name = 'sphinx' as const;
  readonly started: string[] = [];
  readonly stopped: unknown[] = [];

  async transcribe(audio: PcmAudio, options: TranscribeOptions): Promise<EngineResult> {
    this.started.push(audio.wavPath);
    const { signal } = options;
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    });
    this.stopped.push(signal.reason);
    throw signal.reason;
  }
}

interface JobRow {
  status: string;
  attempts: number;
  locked_by: string | null;
}

async function jobRow(testDb: TestDatabase, id: string): Promise<JobRow> {
  const [row] = await asSystem(testDb.database.db, 'test: read a job', (tx) =>
    queryRows<JobRow>(tx, sql`select status, attempts, locked_by from jobs where id = ${id}`),
  );
  assert.ok(row, `job ${id} exists`);
  return row;
}

async function openApp(testDb: TestDatabase, env: Record<string, string>, engine: TranscriptionEngine): Promise<App> {
  const app = await buildApp({
    config: testConfig(env),
    database: testDb.database,
    overrides: { engines: engineSet('sphinx', { sphinx: engine }), queue: { pollMs: 50, leaseMs: 5_000 } },
  });
  await app.ready();
  await app.runtime.queue.start();
  return app;
}

async function uploadAndTranscribe(app: App, user: TestUser): Promise<{ recordingId: string; jobId: string }> {
  const recordingId = await uploadClip(app, user);
  const queued = await app.inject({ method: 'POST', url: `/api/v1/audio/${recordingId}/transcribe`, headers: bearer(user.accessToken) });
  assert.equal(queued.statusCode, 202, queued.body);
  return { recordingId, jobId: queued.json<{ job_id: string }>().job_id };
}

describe('closing the app', () => {
  let testDb: TestDatabase;
  let llm: FakeServer;
  before(async () => {
    testDb = await createTestDatabase();
    llm = await stallingLlm();
  });
  after(async () => {
    await llm?.close();
    await testDb?.drop();
  });

  test('hands a running job back to the queue, its attempt not counted, before close() resolves', async () => {
    const engine = new EngineUntilAborted();
    // Half of it is the running jobs' grace period.
    const app = await openApp(testDb, { SHUTDOWN_TIMEOUT_MS: '200' }, engine);
    const user = await registerUser(app);
    const { jobId } = await uploadAndTranscribe(app, user);
    await waitUntil('the engine to start', () => engine.started.length === 1, 30_000);

    await app.close();
    assert.ok(engine.stopped[0] instanceof JobInterrupted && engine.stopped[0].why === 'shutdown', String(engine.stopped[0]));
    assert.deepEqual(await jobRow(testDb, jobId), { status: 'queued', attempts: 0, locked_by: null });
  });

  test('ends open event streams with a service_unavailable event instead of waiting for them', async () => {
    // A shutdown window far longer than the test's own patience: only ending the streams passes.
    const app = await openApp(
      testDb,
      { SHUTDOWN_TIMEOUT_MS: '600000', RUN_WORKERS: 'false', OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: `${llm.origin}/v1` },
      new EngineUntilAborted(),
    );
    const user = await registerUser(app);
    const { jobId } = await uploadAndTranscribe(app, user);
    const base = await app.listen({ host: '127.0.0.1', port: 0 });
    const auth = bearer(user.accessToken);
    const jobEvents = await readEventStream(`${base}/api/v1/jobs/${jobId}/events`, { headers: auth });
    const answer = await readEventStream(`${base}/api/v1/chat/completion`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'What was said?', stream: true }),
    });
    await jobEvents.next('progress');
    await answer.next('delta');

    await app.close();
    await Promise.all([jobEvents.ended, answer.ended]);
    for (const stream of [jobEvents, answer]) {
      const last = stream.events.at(-1);
      assert.equal(last?.event, 'error', JSON.stringify(stream.events));
      assert.equal((last?.data as { code: string }).code, 'service_unavailable');
    }
    // The provider request behind the answer was abandoned too.
    await llm.requests.at(-1)?.closedEarly;
  });
});

const redis = testQueues();
after(() => redis.cleanup());

for (const queue of ['inline', 'bullmq'] as const) {
  describe(`deleting a recording cancels its transcription [${queue}]`, { skip: queue === 'bullmq' && redisSkipReason() }, () => {
    let testDb: TestDatabase;
    let api: App;
    let worker: App;
    let engine: EngineUntilAborted;
    before(async () => {
      testDb = await createTestDatabase();
      engine = new EngineUntilAborted();
      // Two apps on one database and one blob folder: one answers requests, the other runs the
      // jobs, as an API process and a worker process would (on BullMQ the cancel crosses Redis).
      const shared = {
        DATA_DIR: mkdtempSync(path.join(tmpdir(), 'transcribo-test-')),
        ...(queue === 'bullmq' ? { REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: redis.prefix } : {}),
      };
      api = await openApp(testDb, { ...shared, RUN_WORKERS: 'false' }, new EngineUntilAborted());
      worker = await openApp(testDb, shared, engine);
    });
    after(async () => {
      await api?.close();
      await worker?.close();
      await testDb?.drop();
    });

    test('a running one: the engine is stopped and the job ends cancelled', async () => {
      const user = await registerUser(api);
      const { recordingId, jobId } = await uploadAndTranscribe(api, user);
      await waitUntil('the engine to start', () => engine.started.length === 1, 30_000);

      const deleted = await api.inject({ method: 'DELETE', url: `/api/v1/audio/${recordingId}`, headers: bearer(user.accessToken) });
      assert.equal(deleted.statusCode, 204, deleted.body);
      // Answered once the job has settled: the engine has stopped by then.
      assert.ok(engine.stopped[0] instanceof JobInterrupted && engine.stopped[0].why === 'cancelled', String(engine.stopped[0]));
      assert.equal((await jobRow(testDb, jobId)).status, 'cancelled');
    });

    test('a queued one never starts', async () => {
      const user = await registerUser(api);
      await worker.runtime.queue.stop(0);
      const { recordingId, jobId } = await uploadAndTranscribe(api, user);
      const deleted = await api.inject({ method: 'DELETE', url: `/api/v1/audio/${recordingId}`, headers: bearer(user.accessToken) });
      assert.equal(deleted.statusCode, 204, deleted.body);
      assert.equal((await jobRow(testDb, jobId)).status, 'cancelled');
      const other = await api.inject({ method: 'GET', url: `/api/v1/audio/${recordingId}`, headers: bearer(user.accessToken) });
      assert.equal(other.statusCode, 404);
    });
  });
}
