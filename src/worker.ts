import { pino } from 'pino';
import { configOrExit, describeDatabase, openConfiguredDatabase } from './bootstrap.js';
import { migrate } from './db/migrate.js';
import { createRuntime } from './runtime.js';

// A worker always works jobs; RUN_WORKERS only lets API processes stop doing so.
const config = { ...configOrExit(), runWorkers: true };
const log = pino({ level: config.logLevel, base: { role: 'worker', pid: process.pid } });

if (!config.redisUrl && !config.databaseUrl) {
  log.fatal(
    'A worker process shares its jobs with the API through Redis (REDIS_URL) or PostgreSQL (DATABASE_URL); ' +
      'the embedded PGlite database cannot be shared, so start the API alone instead',
  );
  process.exit(1);
}

const database = await openConfiguredDatabase(config, (error) => log.error({ err: error }, 'database pool error'));
await migrate(database.db);
// Nobody asks a worker for live events, so it does not read the queue's event stream.
const runtime = createRuntime(config, database, log, { queue: { followEvents: false } });
let stopping = false;

async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'worker stopping: letting running jobs finish');
  const force = setTimeout(() => {
    log.error('running jobs did not stop in time; exiting');
    process.exit(1);
  }, config.shutdownTimeoutMs);
  force.unref();
  try {
    await runtime.queue.stop(config.shutdownTimeoutMs / 2);
    await runtime.webhookDispatcher.stop();
    await database.close();
    process.exit(0);
  } catch (error) {
    log.error({ err: error }, 'worker shutdown failed');
    process.exit(1);
  }
}
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => void shutdown(signal));
}

try {
  await runtime.queue.start();
  runtime.webhookDispatcher.start();
  log.info(
    { queue: runtime.queue.kind, database: describeDatabase(config), concurrency: config.workerConcurrency },
    'worker ready',
  );
} catch (error) {
  log.fatal({ err: error }, 'worker could not start');
  process.exit(1);
}
