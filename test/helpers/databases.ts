import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase, type Database } from '../../src/db/client.js';
import { migrate } from '../../src/db/migrate.js';

export type DbKind = 'pglite' | 'postgres';
export const DB_KINDS: DbKind[] = ['pglite', 'postgres'];

/** The server tests create their throwaway databases on. */
export const POSTGRES_ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export const IN_CI = Boolean(process.env.CI);

async function probePostgres(): Promise<string | null> {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('select 1');
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Why PostgreSQL cannot be used, or null when it can. */
export const postgresProblem = await probePostgres();

/**
 * Outside CI a missing PostgreSQL skips its half of the suite; in CI it must fail, so a broken
 * service can never turn the run green.
 */
export function skipReason(kind: DbKind): string | false {
  if (kind === 'postgres' && postgresProblem && !IN_CI) return `PostgreSQL unreachable: ${postgresProblem}`;
  return false;
}

export interface TestDatabase {
  database: Database;
  /** postgres://… of the throwaway database; null for PGlite. */
  url: string | null;
  drop(): Promise<void>;
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A fresh, migrated database: in-memory PGlite, or a new database on the PostgreSQL server. */
export async function createTestDatabase(kind: DbKind): Promise<TestDatabase> {
  if (kind === 'pglite') {
    const database = await openDatabase({ url: null, pgliteDir: null });
    await migrate(database.db);
    return { database, url: null, drop: () => database.close() };
  }
  if (postgresProblem) throw new Error(`PostgreSQL is required (CI is set) but unreachable: ${postgresProblem}`);
  const name = `transcribo_test_${randomBytes(6).toString('hex')}`;
  await admin((c) => c.query(`create database ${name}`));
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  const database = await openDatabase({ url: url.toString(), pgliteDir: null, poolSize: 5 });
  await migrate(database.db);
  return {
    database,
    url: url.toString(),
    drop: async () => {
      await database.close();
      await admin((c) => c.query(`drop database if exists ${name} with (force)`));
    },
  };
}
