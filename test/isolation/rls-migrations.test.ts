import assert from 'node:assert/strict';
import { appendFile, cp, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { queryRows, sql, type AppDatabase, type Database } from '../../src/db/client.js';
import { migrate, MIGRATIONS_DIR } from '../../src/db/migrate.js';
import { describeEachDatabase } from '../helpers/app.js';
import { createEmptyDatabase, type TestDatabase } from '../helpers/databases.js';

/*
 * The policies live in the migrations, so a migration must apply once and never change after:
 * an edited, already-applied file stops the run instead of silently leaving the old policies.
 */

describeEachDatabase('row-level security under the request role', (ctx) => {
  const db = (): AppDatabase => ctx().database.db;

  test('migrate() a second time applies nothing', async () => {
    const files = (await readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql')).sort();
    assert.ok(files.length > 0);
    const again = await migrate(db());
    assert.deepEqual(again, { applied: [], skipped: files });
  });

  test('migrate() refuses a migration edited after it was applied', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'transcribo-migrations-'));
    try {
      await cp(MIGRATIONS_DIR, dir, { recursive: true });
      await appendFile(path.join(dir, '0001_schema.sql'), '\n-- edited after the fact\n');
      await assert.rejects(migrate(db(), dir), /Migration 0001_schema\.sql changed after it was applied/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('migrations on a fresh database', () => {
  let empty: TestDatabase;
  let database: Database;
  let dir: string;

  before(async () => {
    empty = await createEmptyDatabase();
    database = empty.database;
    dir = await mkdtemp(path.join(tmpdir(), 'transcribo-migrations-'));
    await cp(MIGRATIONS_DIR, dir, { recursive: true });
  });

  after(async () => {
    await empty.drop();
    await rm(dir, { recursive: true, force: true });
  });

  const applied = (): Promise<string[]> =>
    queryRows<{ name: string }>(database.db, sql`select name from transcribo_migrations order by name`).then((rows) =>
      rows.map((r) => r.name),
    );

  test('applies every file once, then nothing', async () => {
    const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
    assert.deepEqual(await migrate(database.db, dir), { applied: files, skipped: [] });
    assert.deepEqual(await migrate(database.db, dir), { applied: [], skipped: files });
    assert.deepEqual(await applied(), files);
  });

  test('an edited, already-applied file stops the run before anything later is applied', async () => {
    const before = await applied();
    await appendFile(path.join(dir, '0001_schema.sql'), '\n-- a harmless-looking edit\n');
    await writeFile(path.join(dir, '9999_later.sql'), 'CREATE TABLE later_migration (id int);\n');

    await assert.rejects(migrate(database.db, dir), (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.match(error.message, /Migration 0001_schema\.sql changed after it was applied; add a new migration instead/);
      return true;
    });
    assert.deepEqual(await applied(), before);
    const [later] = await queryRows<{ t: string | null }>(
      database.db,
      sql`select to_regclass('public.later_migration')::text as t`,
    );
    assert.equal(later?.t, null);

    // Restoring the file lets the run through, and only the new migration is applied.
    await cp(path.join(MIGRATIONS_DIR, '0001_schema.sql'), path.join(dir, '0001_schema.sql'));
    const result = await migrate(database.db, dir);
    assert.deepEqual(result.applied, ['9999_later.sql']);
    assert.deepEqual(result.skipped, before);
  });
});
