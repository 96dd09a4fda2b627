/**
 * The scaled-out shape: one API process that runs no jobs (RUN_WORKERS=false) and two
 * `worker` processes, sharing a PostgreSQL database, a Redis and a blob folder. Real sphinx
 * transcriptions; a worker killed with SIGKILL; Redis stopped and started again (empty).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { verify } from '../../src/webhooks/signing.js';
import { audioForm, librivoxClips, shortClip } from '../helpers/audio.js';
import { createTestDatabase, type TestDatabase } from '../helpers/databases.js';
import { redisServerBinary, startPrivateRedis, type PrivateRedis } from '../helpers/redis-server.js';
import {
  ROOT,
  SERVER_FROM_SOURCE,
  call,
  spawnChild,
  startServer,
  tempDir,
  waitForExit,
  type Child,
  type RunningServer,
} from '../helpers/server-process.js';

const WORKER_FROM_SOURCE = [SERVER_FROM_SOURCE[0]!, SERVER_FROM_SOURCE[1]!, path.join(ROOT, 'src', 'worker.ts')];
const BATCH = 20;
const TIMEOUT = { timeout: 420_000 };

interface JobView {
  id: string;
  status: string;
  attempts: number;
  error_code: string | null;
  started_at: string | null;
  result: { transcription_id?: string } | null;
}

// The webhook receiver: answers 500 to the first two tries of the first delivery it sees.
const received: { headers: IncomingHttpHeaders; body: string; answered: number }[] = [];
let firstDeliveryId: string | null = null;
const receiver = createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8').on('data', (c: string) => (body += c));
  req.on('end', () => {
    const id = String(req.headers['webhook-id']);
    firstDeliveryId ??= id;
    const tries = received.filter((r) => r.headers['webhook-id'] === id).length;
    const answered = id === firstDeliveryId && tries < 2 ? 500 : 204;
    received.push({ headers: req.headers, body, answered });
    res.writeHead(answered).end();
  });
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
after(() => new Promise<void>((resolve) => receiver.close(() => resolve())));

const skip = redisServerBinary() ? false : process.env.CI ? false : 'redis-server is not installed';

describe('API + 2 workers on PostgreSQL and Redis', { skip }, () => {
  let testDb: TestDatabase;
  let redis: PrivateRedis;
  let api: RunningServer;
  let pool: pg.Pool;
  const workers: Child[] = [];
  let env: Record<string, string>;
  let token = '';
  let secret = '';
  const recordings: string[] = [];

  async function startWorker(): Promise<Child> {
    const worker = spawnChild(WORKER_FROM_SOURCE, { ...env, LOG_LEVEL: 'info' }, tempDir('worker-cwd'));
    const deadline = Date.now() + 30_000;
    while (!worker.output().includes('"worker ready"')) {
      if (worker.proc.exitCode !== null) assert.fail(`worker exited early\n${worker.output()}`);
      if (Date.now() > deadline) assert.fail(`worker did not start\n${worker.output()}`);
      await sleep(100);
    }
    workers.push(worker);
    return worker;
  }

  async function job(id: string): Promise<JobView> {
    const res = await call(api, 'GET', `/api/v1/jobs/${id}`, { token });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body as JobView;
  }

  async function transcribe(recordingId: string): Promise<string> {
    const res = await call(api, 'POST', `/api/v1/audio/${recordingId}/transcribe`, { token, body: {} });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return (res.body as { job_id: string }).job_id;
  }

  /** Waits for the jobs to end; reads the rows directly, so polling costs the workers no CPU. */
  async function settle(ids: string[], timeoutMs = 300_000): Promise<JobView[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { rows } = await pool.query<{ status: string; attempts: number }>(
        `select status, attempts from jobs where id = any($1::uuid[])`,
        [ids],
      );
      if (rows.length === ids.length && rows.every((r) => ['completed', 'failed', 'cancelled'].includes(r.status))) {
        return Promise.all(ids.map((id) => job(id)));
      }
      if (Date.now() > deadline) {
        assert.fail(`jobs did not settle: ${JSON.stringify(rows)}\n${workers.map((w) => w.output().slice(-3000)).join('\n')}`);
      }
      await sleep(250);
    }
  }

  async function upload(wav: string): Promise<string> {
    const res = await fetch(`${api.base}/api/v1/audio/upload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
      body: audioForm(await readFile(wav), 'clip.wav', { language: 'en' }),
    });
    assert.equal(res.status, 201, await res.clone().text());
    return ((await res.json()) as { id: string }).id;
  }

  before(async () => {
    testDb = await createTestDatabase();
    redis = await startPrivateRedis();
    pool = new pg.Pool({ connectionString: testDb.url, max: 2 });
    env = {
      DATABASE_URL: testDb.url,
      REDIS_URL: redis.url,
      REDIS_PREFIX: 'e2e',
      DATA_DIR: tempDir('shared-data'),
      STT_ENGINE: 'sphinx',
      SECRET_KEY: 'distributed-test-secret-that-is-long-enough',
      JOB_LEASE_SECONDS: '2',
      WORKER_CONCURRENCY: '2',
      WEBHOOK_ALLOW_PRIVATE: 'true',
      SHUTDOWN_TIMEOUT_MS: '5000',
      // The test polls job states far faster than any client should.
      RATE_LIMIT_MAX: '1000000',
    };
    api = await startServer(env.DATA_DIR!, { ...env, RUN_WORKERS: 'false' }, SERVER_FROM_SOURCE);
    await startWorker();
    await startWorker();
    const reg = await call(api, 'POST', '/api/v1/auth/register', {
      body: { email: 'distributed@example.com', password: 'a long enough password' },
    });
    assert.equal(reg.status, 201);
    token = (reg.body as { access_token: string }).access_token;
    const hook = await call(api, 'POST', '/api/v1/webhooks', { token, body: { url: hookUrl, events: ['transcription.completed'] } });
    assert.equal(hook.status, 201, JSON.stringify(hook.body));
    secret = (hook.body as { secret: string }).secret;
    // 1.2 s of real speech ("he was not"): the batch is about queueing, not sphinx's speed on 2 cores.
    const brief = path.join(tempDir('audio'), 'brief.wav');
    execFileSync('sox', [shortClip().wavPath, brief, 'trim', '0', '1.2']);
    for (let i = 0; i < BATCH; i++) recordings.push(await upload(brief));
  });

  after(async () => {
    for (const worker of workers) {
      if (worker.proc.exitCode === null && worker.proc.signalCode === null) {
        worker.proc.kill('SIGTERM');
        await waitForExit(worker);
      }
    }
    if (api && api.proc.exitCode === null) {
      api.proc.kill('SIGTERM');
      await waitForExit(api);
    }
    await pool?.end();
    await redis?.stop();
    await testDb?.drop();
  });

  test(`${BATCH} transcriptions complete exactly once although a worker is killed with SIGKILL mid-batch`, TIMEOUT, async () => {
    const ids = await Promise.all(recordings.map((r) => transcribe(r)));
    const victim = workers[0]!;
    // Kill the first worker once it holds a job (its pid is in the lock owner's name).
    const deadline = Date.now() + 30_000;
    let held: string | undefined;
    while (!held) {
      const { rows } = await pool.query<{ id: string }>(
        `select id from jobs where status = 'running' and locked_by like $1 limit 1`,
        [`bullmq-${victim.proc.pid}-%`],
      );
      held = rows[0]?.id;
      if (!held && Date.now() > deadline) assert.fail(`worker 1 never took a job\n${victim.output()}`);
      if (!held) await sleep(50);
    }
    victim.proc.kill('SIGKILL');
    assert.equal((await waitForExit(victim)).signal, 'SIGKILL');

    const views = await settle(ids);
    assert.deepEqual(views.map((v) => v.status), ids.map(() => 'completed'));
    const taken = views.find((v) => v.id === held)!;
    assert.ok(taken.attempts >= 2, `the killed worker's job ran again (attempts ${taken.attempts})`);

    const { rows } = await pool.query<{ recording_id: string; completed: number; segments: number; distinct_segments: number }>(
      `select t.recording_id,
              count(*) filter (where t.status = 'completed')::int as completed,
              (select count(*) from transcript_segments s where s.transcription_id = any(array_agg(t.id)))::int as segments,
              (select count(distinct (s.transcription_id, s.index)) from transcript_segments s
                where s.transcription_id = any(array_agg(t.id)))::int as distinct_segments
       from transcriptions t group by t.recording_id`,
    );
    assert.equal(rows.length, BATCH);
    for (const row of rows) {
      assert.equal(row.completed, 1, `recording ${row.recording_id} has one completed transcription`);
      assert.ok(row.segments > 0);
      assert.equal(row.segments, row.distinct_segments, 'no duplicate segments');
    }
  });

  test('the webhook receiver sees a signed delivery retried after answering 500 twice', TIMEOUT, async () => {
    const deadline = Date.now() + 60_000;
    while (!received.some((r) => r.headers['webhook-id'] === firstDeliveryId && r.answered === 204)) {
      if (Date.now() > deadline) assert.fail(`no successful retry: ${JSON.stringify(received.map((r) => r.answered))}`);
      await sleep(250);
    }
    const tries = received.filter((r) => r.headers['webhook-id'] === firstDeliveryId);
    assert.deepEqual(tries.map((r) => r.answered), [500, 500, 204]);
    for (const { headers, body } of tries) {
      assert.ok(verify(secret, String(headers['webhook-id']), String(headers['webhook-timestamp']), body, String(headers['webhook-signature'])));
      assert.equal(JSON.parse(body).type, 'transcription.completed');
    }
    const completed = received.filter((r) => r.answered === 204).map((r) => JSON.parse(r.body).data.transcription_id as string);
    assert.equal(new Set(completed).size, completed.length, 'each transcription is announced once');
  });

  test('SSE from the API process follows a job that a worker process runs', TIMEOUT, async () => {
    const jobId = await transcribe(recordings[0]!);
    const res = await fetch(`${api.base}/api/v1/jobs/${jobId}/events`, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(60_000),
    });
    assert.equal(res.status, 200);
    const text = await res.text();
    const events = [...text.matchAll(/^event: (\S+)$/gm)].map((m) => m[1]);
    assert.ok(events.includes('segment'), `segments came through Redis from the worker: ${events.join(',')}`);
    assert.ok(events.some((e, i) => e === 'progress' && i > 0), 'progress beyond the initial state');
    assert.equal(events.at(-1), 'completed');
    const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b), 'event ids increase');
  });

  test('cancel: a queued job never starts, a running one stops', TIMEOUT, async () => {
    // ~33 s of speech: long enough to be caught running.
    const joined = path.join(tempDir('audio'), 'joined.wav');
    execFileSync('sox', [...librivoxClips().map((c) => c.wavPath), joined]);
    const longRecording = await upload(joined);
    const running = await transcribe(longRecording);
    const deadline = Date.now() + 30_000;
    while ((await job(running)).status !== 'running') {
      if (Date.now() > deadline) assert.fail('the long job never started');
      await sleep(50);
    }
    const cancelledAt = Date.now();
    const cancelled = await call(api, 'POST', `/api/v1/jobs/${running}/cancel`, { token });
    assert.equal(cancelled.status, 200);
    const settled = (await settle([running], 15_000))[0]!;
    assert.equal(settled.status, 'cancelled');
    assert.ok(Date.now() - cancelledAt < 10_000, 'stopped well before the transcription could have finished');
    const { rows } = await pool.query<{ status: string; segments: number }>(
      `select t.status, (select count(*) from transcript_segments s where s.transcription_id = t.id)::int as segments
       from transcriptions t where t.job_id = $1`,
      [running],
    );
    assert.deepEqual(rows, [{ status: 'cancelled', segments: 0 }]);

    // Two long jobs occupy the remaining worker's two slots; a third waits and is cancelled there.
    const busy = [await transcribe(longRecording), await transcribe(longRecording)];
    const queued = await transcribe(recordings[1]!);
    assert.equal((await job(queued)).status, 'queued');
    const res = await call(api, 'POST', `/api/v1/jobs/${queued}/cancel`, { token });
    assert.equal((res.body as JobView).status, 'cancelled');
    for (const id of busy) await call(api, 'POST', `/api/v1/jobs/${id}/cancel`, { token });
    await settle(busy, 20_000);
    await sleep(500);
    const after = await job(queued);
    assert.equal(after.status, 'cancelled');
    assert.equal(after.started_at, null, 'the cancelled queued job never started');
    assert.equal(after.attempts, 0);
  });

  test('Redis stopped: readiness 503 naming Redis, queue routes 503 with Retry-After, the rest works; back without restarts', TIMEOUT, async () => {
    const inFlight = [await transcribe(recordings[2]!), await transcribe(recordings[3]!)];
    await redis.stop();
    const deadline = Date.now() + 10_000;
    let ready = await call(api, 'GET', '/api/v1/health/readiness');
    while (ready.status !== 503 && Date.now() < deadline) {
      await sleep(100);
      ready = await call(api, 'GET', '/api/v1/health/readiness');
    }
    assert.equal(ready.status, 503);
    const checks = (ready.body as { checks: Record<string, { status: string; error?: string }> }).checks;
    assert.equal(checks.redis?.status, 'fail');
    assert.match(checks.redis?.error ?? '', /Redis/);
    assert.equal(checks.database?.status, 'ok');

    const refused = await fetch(`${api.base}/api/v1/audio/${recordings[4]}/transcribe`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(refused.status, 503);
    assert.ok(Number(refused.headers.get('retry-after')) > 0, 'Retry-After is set');
    assert.match(((await refused.json()) as { detail: string }).detail, /Redis/);
    const list = await call(api, 'GET', '/api/v1/audio/', { token });
    assert.equal(list.status, 200, 'routes that need no queue keep working');

    // An empty Redis comes back (no persistence): the queued rows are handed over again.
    await redis.start();
    const views = await settle(inFlight, 90_000);
    assert.deepEqual(views.map((v) => v.status), ['completed', 'completed']);
    ready = await call(api, 'GET', '/api/v1/health/readiness');
    assert.equal(ready.status, 200, JSON.stringify(ready.body));
    const again = await transcribe(recordings[4]!);
    assert.equal((await settle([again], 60_000))[0]!.status, 'completed');
  });
});
