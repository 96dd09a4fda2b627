/**
 * No-op jobs through BullMQ end to end: an API-side queue enqueues each job in its own
 * transaction (as a request does), a worker process runs it, and the completion comes back to the
 * API through Redis. Reports jobs/s and pickup latency (commit → handler start). Goal ≥ 500 jobs/s.
 * Needs the local PostgreSQL and Redis (TEST_DATABASE_URL / TEST_REDIS_URL to point elsewhere).
 */
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import pg from 'pg';
import { openDatabase, queryRows } from '../src/db/client.js';
import { newId } from '../src/db/ids.js';
import { migrate } from '../src/db/migrate.js';
import { asSystem, withUser } from '../src/db/scope.js';
import { BullJobQueue } from '../src/jobs/bullmq-queue.js';
import { JobRegistry } from '../src/jobs/registry.js';
import { deletePrefix } from '../src/jobs/redis.js';
import { sql } from 'drizzle-orm';
import { ROOT, writeResult } from './lib.js';
import { noopHandler, now } from './queue-noop.js';

const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const JOBS = 3_000;
const WARMUP = 300;
/** Requests enqueueing at once, as many clients would. */
const ENQUEUE_CONCURRENCY = 32;
const WORKER_CONCURRENCY = 64;
const POOL_SIZE = 20;
/** Jobs sent one at a time, each after the last finished: pickup latency without a backlog. */
const SINGLES = 200;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const round = (n: number) => Math.round(n * 10) / 10;

async function admin(query: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(query);
  } finally {
    await client.end();
  }
}

const dbName = `transcribo_bench_${randomBytes(6).toString('hex')}`;
await admin(`create database ${dbName}`);
const url = new URL(ADMIN_URL);
url.pathname = `/${dbName}`;
const prefix = `bench-${randomUUID()}`;
const database = await openDatabase({ url: url.toString(), poolSize: POOL_SIZE });
const startTimesFile = path.join(mkdtempSync(path.join(tmpdir(), 'transcribo-bench-')), 'started.json');
const worker = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', 'queue-worker.ts')], {
  cwd: ROOT,
  env: {
    ...process.env,
    DATABASE_URL: url.toString(),
    REDIS_URL,
    REDIS_PREFIX: prefix,
    CONCURRENCY: String(WORKER_CONCURRENCY),
    POOL_SIZE: String(POOL_SIZE),
    START_TIMES_FILE: startTimesFile,
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const quiet = { info: () => undefined, warn: (o: object, m: string) => console.warn(m, o), error: (o: object, m: string) => console.error(m, o) };
let api: BullJobQueue | undefined;
try {
  await migrate(database.db);
  await new Promise<void>((resolve, reject) => {
    worker.stdout.setEncoding('utf8').on('data', (chunk: string) => chunk.includes('worker ready') && resolve());
    worker.once('exit', (code) => reject(new Error(`worker exited (${code})`)));
  });
  const userId = newId();
  await asSystem(database.db, 'bench: a job owner', (tx) =>
    tx.execute(sql`insert into users (id, email) values (${userId}, ${`bench-${userId}@example.com`})`),
  );
  const queue = new BullJobQueue({
    db: database.db,
    // The API side runs no jobs; its registry only has to know the type.
    registry: new JobRegistry([noopHandler(() => undefined)], ['transcription']),
    redisUrl: REDIS_URL,
    prefix,
    concurrency: 1,
    runWorkers: false,
    log: quiet,
    leaseMs: 30_000,
  });
  api = queue;
  await queue.start();
  const settledAt = new Map<string, number>();
  queue.on('settled', (id) => settledAt.set(id, now()));

  async function batch(count: number): Promise<{ ids: string[]; committedAt: Map<string, number>; began: number; ended: number }> {
    const ids = Array.from({ length: count }, () => newId());
    const committedAt = new Map<string, number>();
    const began = now();
    let next = 0;
    await Promise.all(
      Array.from({ length: ENQUEUE_CONCURRENCY }, async () => {
        while (next < ids.length) {
          const id = ids[next++]!;
          await withUser(database.db, userId, (tx) =>
            queue.enqueue(tx, { id, userId, type: 'transcription', payload: {}, payloadVersion: 1, maxAttempts: 1 }),
          );
          committedAt.set(id, now());
          queue.wake();
        }
      }),
    );
    const deadline = Date.now() + 120_000;
    while (ids.some((id) => !settledAt.has(id))) {
      if (Date.now() > deadline) throw new Error(`only ${ids.filter((id) => settledAt.has(id)).length}/${count} jobs finished`);
      await sleep(5);
    }
    return { ids, committedAt, began, ended: Math.max(...ids.map((id) => settledAt.get(id)!)) };
  }

  await batch(WARMUP);
  const run = await batch(JOBS);
  const singles: { ids: string[]; committedAt: Map<string, number> } = { ids: [], committedAt: new Map() };
  for (let i = 0; i < SINGLES; i++) {
    const one = await batch(1);
    singles.ids.push(one.ids[0]!);
    singles.committedAt.set(one.ids[0]!, one.committedAt.get(one.ids[0]!)!);
  }
  worker.kill('SIGTERM');
  await new Promise((resolve) => worker.once('exit', resolve));
  const started = JSON.parse(readFileSync(startTimesFile, 'utf8')) as Record<string, number>;
  const pickup = run.ids.map((id) => started[id]! - run.committedAt.get(id)!);
  const endToEnd = run.ids.map((id) => settledAt.get(id)! - run.committedAt.get(id)!);
  const idlePickup = singles.ids.map((id) => started[id]! - singles.committedAt.get(id)!);
  const idleEndToEnd = singles.ids.map((id) => settledAt.get(id)! - singles.committedAt.get(id)!);
  const [done] = await asSystem(database.db, 'bench: check', (tx) =>
    queryRows<{ n: number }>(tx, sql`select count(*)::int as n from jobs where status = 'completed'`),
  );
  writeResult('queue-throughput', {
    jobs: JOBS,
    completed_in_database: done?.n,
    expected_in_database: WARMUP + JOBS + SINGLES,
    enqueue_concurrency: ENQUEUE_CONCURRENCY,
    worker_concurrency: WORKER_CONCURRENCY,
    jobs_per_second: Math.round(JOBS / ((run.ended - run.began) / 1000)),
    // In the burst, latency is mostly the wait behind earlier jobs of the same burst.
    burst_pickup_ms: { p50: round(percentile(pickup, 50)), p99: round(percentile(pickup, 99)) },
    burst_end_to_end_ms: { p50: round(percentile(endToEnd, 50)), p99: round(percentile(endToEnd, 99)) },
    single_jobs: SINGLES,
    pickup_ms: { p50: round(percentile(idlePickup, 50)), p99: round(percentile(idlePickup, 99)) },
    end_to_end_ms: { p50: round(percentile(idleEndToEnd, 50)), p99: round(percentile(idleEndToEnd, 99)) },
    goal_jobs_per_second: 500,
  });
} finally {
  if (worker.exitCode === null) worker.kill('SIGKILL');
  await api?.stop(0);
  await database.close();
  await admin(`drop database if exists ${dbName} with (force)`);
  const redis = new Redis(REDIS_URL);
  await deletePrefix(redis, prefix);
  redis.disconnect();
}
