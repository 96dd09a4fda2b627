import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { queryRows, type AppDatabase } from './client.js';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

/** drizzle-kit's separator; PGlite's driver runs one statement per call. */
const BREAKPOINT = '--> statement-breakpoint';

// Any constant works; it serialises concurrent start-ups of several API processes.
const MIGRATION_LOCK = 7_262_521_811;

export interface MigrationResult {
  applied: string[];
  skipped: string[];
}

/**
 * Applies migrations/*.sql in name order, each in its own transaction under an advisory lock.
 * Re-running is a no-op; a file edited after it was applied stops start-up instead of being skipped.
 */
export async function migrate(db: AppDatabase, dir = MIGRATIONS_DIR): Promise<MigrationResult> {
  await db.execute(
    sql.raw(`CREATE TABLE IF NOT EXISTS transcribo_migrations (
      name text PRIMARY KEY,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`),
  );
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const result: MigrationResult = { applied: [], skipped: [] };
  for (const name of files) {
    const body = await readFile(`${dir}/${name}`, 'utf8');
    const checksum = createHash('sha256').update(body).digest('hex');
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
