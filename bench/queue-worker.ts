/**
 * The worker process of the queue benchmark: a BullMQ worker with the no-op handler. On SIGTERM
 * it stops and writes when each job started to START_TIMES_FILE.
 */
import { writeFileSync } from 'node:fs';
import { openDatabase } from '../src/db/client.js';
import { BullJobQueue } from '../src/jobs/bullmq-queue.js';
import { JobRegistry } from '../src/jobs/registry.js';
import { noopHandler, now } from './queue-noop.js';

const env = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};
const started: Record<string, number> = {};
const database = await openDatabase({ url: env('DATABASE_URL'), poolSize: Number(env('POOL_SIZE')) });
const quiet = { info: () => undefined, warn: (o: object, m: string) => console.warn(m, o), error: (o: object, m: string) => console.error(m, o) };
const queue = new BullJobQueue({
  db: database.db,
  registry: new JobRegistry([noopHandler((id) => (started[id] = now()))], ['transcription']),
  redisUrl: env('REDIS_URL'),
  prefix: env('REDIS_PREFIX'),
  concurrency: Number(env('CONCURRENCY')),
  runWorkers: true,
  followEvents: false,
  log: quiet,
  leaseMs: 30_000,
});
await queue.start();
console.log('worker ready');
process.once('SIGTERM', () => {
  void (async () => {
    await queue.stop(1_000);
    await database.close();
    writeFileSync(env('START_TIMES_FILE'), JSON.stringify(started));
    process.exit(0);
  })();
});
