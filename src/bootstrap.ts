import path from 'node:path';
import { ConfigError, loadConfig, readEnvironment, type Config } from './config.js';
import { openDatabase, type Database } from './db/client.js';

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

export function pgliteDir(config: Config): string {
  return path.join(config.dataDir, 'db');
}

export function openConfiguredDatabase(config: Config, onPoolError?: (error: Error) => void): Promise<Database> {
  return openDatabase({
    url: config.databaseUrl,
    pgliteDir: pgliteDir(config),
    poolSize: config.databasePoolSize,
    onPoolError,
  });
}

/** What the logs may say about where the data is, without credentials. */
export function describeDatabase(config: Config): string {
  if (!config.databaseUrl) return `PGlite in ${pgliteDir(config)}`;
  const url = new URL(config.databaseUrl);
  return `PostgreSQL at ${url.hostname}:${url.port || 5432}${url.pathname}`;
}
