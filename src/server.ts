import { buildApp } from './app.js';
import { configOrExit, describeDatabase, prepareDatabase, type PreparedDatabase } from './bootstrap.js';

const config = configOrExit();
let stopping = false;
const logger = { level: config.logLevel };
const app = await (async () => {
  let prepared: PreparedDatabase;
  try {
    prepared = await prepareDatabase(config, 'api', {
      onPoolError: (error) => app.log.error({ err: error }, 'database pool error'),
    });
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
  const { database, migrations } = prepared;
  const built = await buildApp({ config, database, logger });
  built.addHook('onClose', () => database.close());
  // While stopping, answered connections are closed instead of idling in keep-alive, which
  // would otherwise hold app.close() open until the client's keep-alive timeout.
  built.addHook('onSend', async (_request, reply) => {
    if (stopping) void reply.header('connection', 'close');
  });
  built.log.info(
    { database: describeDatabase(config), migrations_applied: migrations.applied, secret_key: config.secretKeySource },
    'database ready',
  );
  return built;
})();

async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  app.log.info({ signal }, 'shutting down: finishing in-flight requests');
  const force = setTimeout(() => {
    app.log.error('in-flight requests did not finish in time; exiting');
    process.exit(1);
  }, config.shutdownTimeoutMs);
  force.unref();
  try {
    // Stops accepting connections, waits for in-flight requests, then runs onClose (the database).
    await app.close();
    process.exit(0);
  } catch (error) {
    app.log.error({ err: error }, 'shutdown failed');
    process.exit(1);
  }
}
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => void shutdown(signal));
}

try {
  // Jobs queued or interrupted before a restart resume here.
  await app.runtime.queue.start();
  app.runtime.webhookDispatcher.start();
  await app.listen({ host: config.host, port: config.port });
} catch (error) {
  app.log.fatal({ err: error }, 'could not listen');
  process.exit(1);
}
