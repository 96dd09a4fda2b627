import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { queryRows, type AppDatabase } from './client.js';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

/** drizzle-kit's separator between statements of one file. */
const BREAKPOINT = '--> statement-breakpoint';

// Any constant works; it serialises concurrent start-ups of several API processes.
const MIGRATION_LOCK = 7_262_521_811;

/** PostgreSQL's undefined_table: the bookkeeping table does not exist yet (a fresh database). */
const UNDEFINED_TABLE = '42P01';

export interface MigrationResult {
  applied: string[];
  skipped: string[];
}

interface MigrationFile {
  name: string;
  body: string;
  checksum: string;
}

async function readMigrations(dir: string): Promise<MigrationFile[]> {
  const names = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  return Promise.all(
    names.map(async (name) => {
      const body = await readFile(`${dir}/${name}`, 'utf8');
      return { name, body, checksum: createHash('sha256').update(body).digest('hex') };
    }),
  );
}

/** The SQLSTATE of a failed query; drizzle wraps the driver's error in its own, with it as cause. */
function sqlState(error: unknown): string | undefined {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code;
    // Five characters: a SQLSTATE, not a Node error code such as ECONNRESET.
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

/** Applied migrations' checksums by name, in one query; null when the table is not there yet. */
async function appliedChecksums(db: AppDatabase): Promise<Map<string, string> | null> {
  try {
    const rows = await queryRows<{ name: string; checksum: string }>(db, sql`select name, checksum from transcribo_migrations`);
    return new Map(rows.map((r) => [r.name, r.checksum]));
  } catch (error) {
    if (sqlState(error) === UNDEFINED_TABLE) return null;
    throw error;
  }
}

/**
 * Applies migrations/*.sql in name order, each in its own transaction under an advisory lock.
 * Re-running is a no-op; a file edited after it was applied stops start-up instead of being skipped.
 *
 * Every start runs this, and nearly always nothing is to be done, so that case costs one query:
 * all applied names and checksums are read first, and when every file is there unchanged the
 * lock and the per-file transactions are skipped. Anything else (a new file, an edited one, a
 * fresh database) takes the careful path below, which decides everything again under the lock.
 */
export async function migrate(db: AppDatabase, dir = MIGRATIONS_DIR): Promise<MigrationResult> {
  const files = await readMigrations(dir);
  const known = await appliedChecksums(db);
  if (known && files.every((f) => known.get(f.name) === f.checksum)) {
    return { applied: [], skipped: files.map((f) => f.name) };
  }
  if (!known) {
    // Under the lock, so that processes starting together on a fresh database do not race on
    // CREATE TABLE IF NOT EXISTS (which can fail with a duplicate-key error on pg_type).
    await db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${MIGRATION_LOCK})`);
      await tx.execute(
        sql.raw(`CREATE TABLE IF NOT EXISTS transcribo_migrations (
          name text PRIMARY KEY,
          checksum text NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now()
        )`),
      );
    });
  }
  const result: MigrationResult = { applied: [], skipped: [] };
  for (const { name, body, checksum } of files) {
    const applied = await db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${MIGRATION_LOCK})`);
      const [done] = await queryRows<{ checksum: string }>(
        tx,
        sql`select checksum from transcribo_migrations where name = ${name}`,
      );
      if (done) {
        if (done.checksum !== checksum) {
          throw new Error(`Migration ${name} changed after it was applied; add a new migration instead`);
        }
        return false;
      }
      for (const statement of body.split(BREAKPOINT)) {
        if (statement.replace(/--.*$/gm, '').trim() === '') continue;
        await tx.execute(sql.raw(statement));
      }
      await tx.execute(sql`insert into transcribo_migrations (name, checksum) values (${name}, ${checksum})`);
      return true;
    });
    (applied ? result.applied : result.skipped).push(name);
  }
  return result;
}
