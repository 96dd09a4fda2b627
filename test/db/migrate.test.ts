import assert from 'node:assert/strict';
import { cp, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { queryRows, sql } from '../../src/db/client.js';
import { migrate, MIGRATIONS_DIR } from '../../src/db/migrate.js';
import { createEmptyDatabase, createTestDatabase, type TestDatabase } from '../helpers/databases.js';

/*
 * migrate() runs on every start of every process, nearly always with nothing to do; that case
 * must cost one round trip. Statements are counted where they leave the process (pg.Client#query,
 * which pool queries and transactions both go through), so no driver or ORM detail hides one.
 */

/** pg.Client#query as a plain function property, so the spy can stand in for it. */
type QueryFn = (this: unknown, ...args: unknown[]) => unknown;

async function countingStatements<T>(work: () => Promise<T>): Promise<{ result: T; statements: string[] }> {
  const proto = pg.Client.prototype as unknown as { query: QueryFn };
  const original = proto.query;
  const statements: string[] = [];
  // query() has many overloads; the spy records the text and hands every argument on as it came.
  proto.query = function (this: unknown, ...args: unknown[]) {
    const first = args[0] as string | { text?: string };
    statements.push(typeof first === 'string' ? first : (first.text ?? '(query without text)'));
    return original.apply(this, args);
  };
  try {
    return { result: await work(), statements };
  } finally {
    proto.query = original;
  }
}

const sqlFiles = async (dir: string) => (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();

describe('migrate() round trips', () => {
  let migrated: TestDatabase;

  before(async () => {
    migrated = await createTestDatabase();
  });

  after(async () => {
    await migrated.drop();
  });

  test('an up-to-date database costs one statement: no lock, no transactions', async () => {
    const files = await sqlFiles(MIGRATIONS_DIR);
    const { result, statements } = await countingStatements(() => migrate(migrated.database.db));
    assert.deepEqual(result, { applied: [], skipped: files });
    assert.equal(statements.length, 1, statements.join('\n---\n'));
    assert.match(statements[0]!, /transcribo_migrations/);
  });

  test('a new file still goes through the lock and is applied alone', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'transcribo-migrations-'));
    try {
      await cp(MIGRATIONS_DIR, dir, { recursive: true });
      await writeFile(path.join(dir, '9999_round_trips.sql'), 'CREATE TABLE round_trip_probe (id int);\n');
      const { result, statements } = await countingStatements(() => migrate(migrated.database.db, dir));
      assert.deepEqual(result.applied, ['9999_round_trips.sql']);
      assert.ok(statements.some((s) => s.includes('pg_advisory_xact_lock')), 'took the lock');
      // Now up to date again: back to one statement.
      const again = await countingStatements(() => migrate(migrated.database.db, dir));
      assert.deepEqual(again.result.applied, []);
      assert.equal(again.statements.length, 1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('migrate() on a database without the bookkeeping table', () => {
  let empty: TestDatabase;

  before(async () => {
    empty = await createEmptyDatabase();
  });

  after(async () => {
    await empty.drop();
  });

  test('creates it and applies everything, also when several processes start at once', async () => {
    const files = await sqlFiles(MIGRATIONS_DIR);
    // Two start-ups racing on a fresh database: the lock lets exactly one apply each file.
    const results = await Promise.all([migrate(empty.database.db), migrate(empty.database.db)]);
    assert.deepEqual(results.flatMap((r) => r.applied).sort(), files);
    const rows = await queryRows<{ name: string }>(empty.database.db, sql`select name from transcribo_migrations order by name`);
    assert.deepEqual(
      rows.map((r) => r.name),
      files,
    );
  });
});
