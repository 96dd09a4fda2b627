import { pino } from 'pino';
import { buildApp } from './app.js';
import { configOrExit, describeDatabase, prepareDatabase, type PreparedDatabase } from './bootstrap.js';
import { loggerOptionsOrExit } from './logging.js';
import { startMetricsListener, type MetricsListener } from './metrics/listener.js';
import { removeDeadProcessTemp } from './process/startup-cleanup.js';

const config = configOrExit();
let stopping = false;
let metricsListener: MetricsListener | null = null;
const logger = await loggerOptionsOrExit(config);
const { app, database } = await (async () => {
  let prepared: PreparedDatabase;
  try {
    prepared = await prepareDatabase(config, 'api', {
      log: pino({ level: logger.level }, logger.stream),
      onPoolError: (error) => app.log.error({ err: error }, 'database pool error'),
    });
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
  const { database, migrations } = prepared;
  const built = await buildApp({ config, database, logger });
  // While stopping, answered connections are closed instead of idling in keep-alive, which
  // would otherwise hold app.close() open until the client's keep-alive timeout.
  built.addHook('onSend', async (_request, reply) => {
    if (stopping) void reply.header('connection', 'close');
  });
  built.log.info(
    { database: describeDatabase(config), migrations_applied: migrations.applied, secret_key: config.secretKeySource },
    'database ready',
  );
  return { app: built, database };
})();

/** How long the database (the embedded server's stop included) may take to close at shutdown. */
const DATABASE_CLOSE_TIMEOUT_MS = 30_000;

async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  app.log.info({ signal }, 'shutting down: finishing in-flight requests');
  const force = setTimeout(() => {
    app.log.error('in-flight requests or running jobs did not finish in time; exiting');
    process.exit(1);
  }, config.shutdownTimeoutMs);
  force.unref();
  let code = 0;
  try {
    // Stops accepting connections, ends event streams, waits for in-flight requests and hands
    // running jobs back to the queue.
    await app.close();
    await metricsListener?.close();
  } catch (error) {
    app.log.error({ err: error }, 'shutdown failed');
    code = 1;
  }
  // The requests and jobs are done: what is left is stopping the database, which for the embedded
  // server means a checkpoint that a busy machine can make slow. It gets its own bound, so that a
  // slow checkpoint is not reported as unfinished requests.
  clearTimeout(force);
  setTimeout(() => {
    app.log.error('the database did not close in time; exiting');
    process.exit(1);
  }, DATABASE_CLOSE_TIMEOUT_MS).unref();
  // Only now: the jobs' hand-back writes to it. (An onClose hook could not promise this order:
  // Fastify runs them last-registered first.)
  try {
    await database.close();
  } catch (error) {
    app.log.error({ err: error }, 'could not close the database');
    code = 1;
  }
  process.exit(code);
}
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => void shutdown(signal));
}

try {
  // A process killed before this start left its temp files; the jobs it ran resume below.
  await removeDeadProcessTemp(app.runtime.intake, app.log);
  // Jobs queued or interrupted before a restart resume here.
  await app.runtime.queue.start();
  app.runtime.webhookDispatcher.start();
  await app.listen({ host: config.host, port: config.port });
  if (config.metricsPort !== null && app.runtime.metrics) {
    const { metricsPort: port, metricsToken: token, host } = config;
    metricsListener = await startMetricsListener({ host, port, token, metrics: app.runtime.metrics, log: app.log });
    app.log.info({ port, token_required: token !== null }, 'metrics listener ready');
  }
} catch (error) {
  app.log.fatal({ err: error }, 'could not listen');
  process.exit(1);
}
