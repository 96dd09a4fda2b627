import { pino } from 'pino';
import { configOrExit, describeDatabase, prepareDatabase } from './bootstrap.js';
import { loggerOptionsOrExit } from './logging.js';
import { removeDeadProcessTemp } from './process/startup-cleanup.js';
import { startMetricsListener, type MetricsListener } from './metrics/listener.js';
import { createRuntime } from './runtime.js';

// A worker always works jobs; RUN_WORKERS only lets API processes stop doing so.
const config = { ...configOrExit(), runWorkers: true };
const { stream: logStream, ...logOptions } = await loggerOptionsOrExit(config);
const log = pino({ ...logOptions, base: { role: 'worker', pid: process.pid } }, logStream);

// Without DATABASE_URL the worker joins the embedded PostgreSQL its API started in DATA_DIR.
const database = await prepareDatabase(config, 'worker', {
  log,
  onPoolError: (error) => log.error({ err: error }, 'database pool error'),
}).then(
  (prepared) => prepared.database,
  (error: unknown) => {
    log.fatal(error instanceof Error ? error.message : String(error));
    process.exit(1);
  },
);
// Nobody asks a worker for live events, so it does not read the queue's event stream.
const runtime = await createRuntime(config, database, log, { queue: { followEvents: false } });
let stopping = false;
let metricsListener: MetricsListener | null = null;

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
    await metricsListener?.close();
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
  await removeDeadProcessTemp(runtime.intake, log);
  await runtime.queue.start();
  runtime.webhookDispatcher.start();
  // A worker has no HTTP server: this small listener is how Prometheus reaches it.
  if (config.metricsPort !== null && runtime.metrics) {
    const { metricsPort: port, metricsToken: token, host } = config;
    metricsListener = await startMetricsListener({ host, port, token, metrics: runtime.metrics, log });
  }
  log.info(
    { queue: runtime.queue.kind, database: describeDatabase(config), concurrency: config.workerConcurrency },
    'worker ready',
  );
} catch (error) {
  log.fatal({ err: error }, 'worker could not start');
  process.exit(1);
}
