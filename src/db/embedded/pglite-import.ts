import { rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { queryRows, type AppDatabase, type Queryable } from '../client.js';
import { migrate } from '../migrate.js';
import type { EmbeddedLog } from './cluster.js';

/*
 * Transcribo's embedded database used to be PGlite in DATA_DIR/db. Its data is copied into the
 * PostgreSQL server once, table by table in one transaction, and the old folder is kept, renamed,
 * so an upgrade never starts on an empty database by surprise and never loses the original.
 */

const BATCH_ROWS = 500;

export interface PgliteImport {
  tables: Record<string, number>;
  keptAt: string;
}

export function legacyPgliteDir(dataDir: string): string {
  return path.join(dataDir, 'db');
}

async function holdsPglite(dir: string): Promise<boolean> {
  return stat(path.join(dir, 'PG_VERSION')).then(() => true, () => false);
}

interface PgliteLike {
  query<T>(query: string, params?: unknown[]): Promise<{ rows: T[] }>;
  close(): Promise<void>;
  waitReady: Promise<void>;
}

async function openPglite(dir: string): Promise<PgliteLike> {
  const [{ PGlite }, { drizzle }] = await Promise.all([import('@electric-sql/pglite'), import('drizzle-orm/pglite')]);
  const client = new PGlite(dir);
  await client.waitReady;
  // An older version's data gets the migrations it missed first, so both sides have one shape.
  await migrate(drizzle({ client }) as unknown as AppDatabase);
  return client;
}

/** Copies DATA_DIR/db (PGlite) into `target`, if there is such a folder; null when there is none. */
export async function importLegacyPglite(dataDir: string, target: AppDatabase, log: EmbeddedLog): Promise<PgliteImport | null> {
  const dir = legacyPgliteDir(dataDir);
  if (!(await holdsPglite(dir))) return null;
  const [existing] = await queryRows<{ n: number }>(target, sql`select count(*)::int as n from users`);
  if ((existing?.n ?? 0) > 0) {
    throw new Error(
      `${dir} holds data of the old embedded database (PGlite), and the embedded PostgreSQL in ` +
        `${path.join(dataDir, 'pg')} already holds accounts too, so it will not be imported over them. ` +
        `Move ${dir} away to keep the current data, or move ${path.join(dataDir, 'pg')} away to import it on the next start.`,
    );
  }
  log.warn({ from: dir }, 'importing the data of the old embedded database (PGlite) into PostgreSQL');
  const source = await openPglite(dir);
  const tables: Record<string, number> = {};
  try {
    await target.transaction(async (tx) => {
      // Replica mode skips foreign-key triggers, so tables can be copied in any order.
      await tx.execute(sql.raw('set local session_replication_role = replica'));
      const names = await queryRows<{ name: string }>(
        tx,
        sql`select tablename as name from pg_tables where schemaname = 'public' and tablename <> 'transcribo_migrations' order by 1`,
      );
      for (const { name } of names) tables[name] = await copyTable(source, tx, name);
    });
  } finally {
    await source.close();
  }
  const keptAt = `${dir}.pglite-imported-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  await rename(dir, keptAt);
  log.warn({ tables, kept_at: keptAt }, 'imported the old embedded database; its folder is kept, renamed');
  return { tables, keptAt };
}

async function copyTable(source: PgliteLike, target: Queryable, table: string): Promise<number> {
  const columns = await queryRows<{ name: string }>(
    target,
    sql`select column_name as name from information_schema.columns
        where table_schema = 'public' and table_name = ${table} and is_generated = 'NEVER' order by ordinal_position`,
  );
  const list = columns.map((c) => `"${c.name}"`).join(', ');
  let copied = 0;
  for (;;) {
    const { rows } = await source.query<{ batch: string }>(
      `select coalesce(json_agg(t), '[]')::text as batch from (select ${list} from "${table}" order by ctid limit ${BATCH_ROWS} offset ${copied}) t`,
    );
    const batch = rows[0]?.batch ?? '[]';
    const count = (JSON.parse(batch) as unknown[]).length;
    if (count === 0) break;
    await target.execute(
      sql.raw(`insert into "${table}" (${list}) select ${list} from json_populate_recordset(null::"${table}", `).append(
        sql`${batch}::json)`,
      ),
    );
    copied += count;
    if (count < BATCH_ROWS) break;
  }
  const [{ n } = { n: 0 }] = (await source.query<{ n: number }>(`select count(*)::int as n from "${table}"`)).rows;
  if (n !== copied) throw new Error(`Importing ${table} copied ${copied} of ${n} rows; nothing was imported`);
  return copied;
}
