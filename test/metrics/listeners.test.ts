/**
 * METRICS_PORT: a worker process (dist/worker.js) serves its own metrics there, and so may the API
 * (dist/server.js). Real processes on the test PostgreSQL and Redis, scraped over HTTP. Run
 * `node scripts/build.js --if-stale` first (npm test does).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js';
import { redisSkipReason, TEST_REDIS_URL, testQueues } from '../helpers/redis.js';
import { freePort, startServer, startWorker, stopServer, tempDir, type Child } from '../helpers/server-process.js';
import { declared, METRICS_TOKEN, valueOf } from './support.js';

describe('a worker on METRICS_PORT', { skip: redisSkipReason() }, () => {
  const queues = testQueues();
  let testDb: TestDatabase;
  let worker: Child;
  let base = '';

  before(async () => {
    testDb = await createTestDatabase();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    worker = await startWorker({
      DATABASE_URL: testDb.url,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_PREFIX: queues.prefix,
      DATA_DIR: tempDir('metrics-worker'),
      SECRET_KEY: 'metrics-worker-secret-that-is-long-enough',
      STT_ENGINE: 'sphinx',
      METRICS_PORT: String(port),
      METRICS_TOKEN,
    });
  });

  after(async () => {
    await testDb?.drop();
    await queues.cleanup();
  });

  const get = (path: string, token?: string) =>
    fetch(`${base}${path}`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(10_000),
    });

  test('answers /metrics with its job, queue and process metrics, behind the token', async () => {
    const res = await get('/metrics', METRICS_TOKEN);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    assert.equal(declared(text).get('transcribo_jobs_total'), 'counter');
    assert.equal(declared(text).get('transcribo_transcription_realtime_factor'), 'histogram');
    assert.equal(valueOf(text, 'transcribo_job_queue_depth', { type: 'transcription' }), 0);
    assert.ok(valueOf(text, 'nodejs_eventloop_lag_p99_seconds') !== undefined);
    assert.ok((valueOf(text, 'process_resident_memory_bytes') ?? 0) > 0);

    for (const token of [undefined, 'wrong-token']) {
      const refused = await get('/metrics', token);
      assert.equal(refused.status, 401);
      assert.match(refused.headers.get('www-authenticate') ?? '', /^Bearer/);
      assert.ok(!(await refused.text()).includes('transcribo_'));
    }
    const elsewhere = await get('/api/v1/health/liveness', METRICS_TOKEN);
    assert.equal(elsewhere.status, 404);
    await elsewhere.body?.cancel();
  });

  test('closes the listener and exits 0 on SIGTERM', async () => {
    const exit = await stopServer(worker);
    assert.deepEqual(exit, { code: 0, signal: null }, worker.output());
    await assert.rejects(get('/metrics', METRICS_TOKEN));
  });
});

describe('the API with METRICS_PORT and no METRICS_TOKEN', () => {
  let testDb: TestDatabase;

  before(async () => {
    testDb = await createTestDatabase();
  });
  after(async () => {
    await testDb?.drop();
  });

  test('serves /metrics only on the separate port, open there; the main port answers 404', async () => {
    const port = await freePort();
    const api = await startServer(tempDir('metrics-api'), {
      DATABASE_URL: testDb.url,
      SECRET_KEY: 'metrics-api-secret-that-is-long-enough',
      METRICS_PORT: String(port),
    });
    const main = await fetch(`${api.base}/metrics`);
    assert.equal(main.status, 404);
    await main.body?.cancel();
    const separate = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.equal(separate.status, 200);
    const text = await separate.text();
    const count = (route: string, status: string) =>
      valueOf(text, 'transcribo_http_request_duration_seconds_count', { route, method: 'GET', status_code: status });
    // startServer polled the liveness route until it answered; the 404 was ours.
    assert.ok((count('/api/v1/health/liveness', '200') ?? 0) >= 1);
    assert.equal(count('unmatched', '404'), 1);
    assert.deepEqual(await stopServer(api), { code: 0, signal: null }, api.output());
  });
});
