import path from 'node:path';
import { pino } from 'pino';
import { ConfigError, loadConfig, readEnvironment, type Config } from './config.js';
import { openDatabase, type Database } from './db/client.js';
import { findEmbeddedPostgres, startEmbeddedPostgres } from './db/embedded/cluster.js';
import { importLegacyPglite } from './db/embedded/pglite-import.js';
import { migrate, type MigrationResult } from './db/migrate.js';

/** Config from the environment, or exit naming every bad variable. */
export function configOrExit(): Config {
  try {
    return loadConfig(readEnvironment());
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
}

export interface PreparedDatabase {
  database: Database;
  migrations: MigrationResult;
}

type StartupLog = Pick<pino.Logger, 'info' | 'warn'>;

/**
 * The database, migrated: DATABASE_URL's server, or the embedded one in DATA_DIR/pg. The API
 * starts (or adopts) the embedded server and stops it when its database closes; a worker joins
 * the server its API started in the same DATA_DIR.
 */
export async function prepareDatabase(
  config: Config,
  role: 'api' | 'worker',
  options: { log?: StartupLog; onPoolError?: (error: Error) => void } = {},
): Promise<PreparedDatabase> {
  const log = options.log ?? pino({ level: config.logLevel });
  const common = { poolSize: config.databasePoolSize, onPoolError: options.onPoolError };
  if (config.databaseUrl || role === 'worker') {
    const url = config.databaseUrl ?? (await findEmbeddedPostgres(config.dataDir));
    const database = await openDatabase({ url, ...common });
    return { database, migrations: await migrate(database.db) };
  }
  const server = await startEmbeddedPostgres(config.dataDir, log);
  let database: Database | null = null;
  try {
    database = await openDatabase({ url: server.url, ...common, afterClose: () => server.stop() });
    const migrations = await migrate(database.db);
    await importLegacyPglite(config.dataDir, database.db, log);
    return { database, migrations };
  } catch (error) {
    await (database ? database.close() : server.stop());
    throw error;
  }
}

/** What the logs may say about where the data is, without credentials. */
export function describeDatabase(config: Config): string {
  if (!config.databaseUrl) return `embedded PostgreSQL in ${path.join(config.dataDir, 'pg')}`;
  const url = new URL(config.databaseUrl);
  return `PostgreSQL at ${url.hostname}:${url.port || 5432}${url.pathname}`;
}
