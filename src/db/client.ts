import { sql, type ExtractTablesWithRelations, type SQL } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { schema } from './schema.js';

export type Schema = typeof schema;
export type AppDatabase = PgDatabase<PgQueryResultHKT, Schema>;
export type Tx = PgTransaction<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>;
/** Anything queries can run on: the database itself or an open transaction. */
export type Queryable = AppDatabase | Tx;

export interface Database {
  readonly db: AppDatabase;
  /** The pool behind `db`, for reads sent as one message (src/db/read.ts). */
  readonly pool: pg.Pool;
  /** Fails when the database cannot answer a trivial query. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** postgres://… of the server: the configured one, or the embedded one this process started. */
  url: string;
  poolSize?: number;
  /** How long a query waits for a free connection; POOL_WAIT_MS unless a test needs it short. */
  poolWaitMs?: number;
  onPoolError?: (error: Error) => void;
  /** Runs after the pool has ended (the embedded server stops here, once nothing uses it). */
  afterClose?: () => Promise<void>;
}

/** How long a request may wait for a free connection before it is answered 503. */
export const POOL_WAIT_MS = 15_000;

export async function openDatabase({ url, poolSize = 10, poolWaitMs = POOL_WAIT_MS, onPoolError, afterClose }: DatabaseOptions): Promise<Database> {
  // A burst waits its turn for a connection (a server that is down refuses at once, not after this).
  const pool = new pg.Pool({ connectionString: url, max: poolSize, connectionTimeoutMillis: poolWaitMs });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', (error) => onPoolError?.(error));
  const client = await pool.connect();
  client.release();
  const db = drizzle({ client: pool, schema }) as unknown as AppDatabase;
  let closing: Promise<void> | null = null;
  return {
    db,
    pool,
    ping: async () => {
      await pool.query('select 1');
    },
    close: () => {
      closing ??= (async () => {
        await pool.end();
        await afterClose?.();
      })();
      return closing;
    },
  };
}

/** pg-pool's and pg's words for "no connection within connectionTimeoutMillis" (they carry no code). */
const CONNECT_TIMEOUTS = ['timeout exceeded when trying to connect', 'Connection terminated due to connection timeout'];

/**
 * Whether `error` (or what it wraps: drizzle keeps the driver's error as `cause`) is the pool
 * giving up on a connection: every connection busy, or the server too slow to accept one.
 */
export function isConnectTimeout(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (CONNECT_TIMEOUTS.includes(e.message)) return true;
  }
  return false;
}

/** Rows of a raw query. */
export async function queryRows<T>(q: Queryable, statement: SQL): Promise<T[]> {
  const result: unknown = await q.execute(statement);
  return (result as { rows: T[] }).rows;
}

export { sql };
