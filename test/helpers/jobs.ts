import { sql } from '../../src/db/client.js';
import { newId } from '../../src/db/ids.js';
import { asSystem } from '../../src/db/scope.js';
import { createTestDatabase, type DbKind, type TestDatabase } from './databases.js';
import { uniqueEmail } from './factory.js';

/**
 * A database for queue tests: a job owner, and `test_effects`, where test handlers write their
 * results in commit(tx) so "written exactly once" can be counted.
 */
export async function queueTestDatabase(kind: DbKind, label: string): Promise<{ testDb: TestDatabase; userId: string }> {
  const testDb = await createTestDatabase();
  const { db } = testDb.database;
  await db.execute(sql`create table test_effects (job_id uuid not null, n int not null)`);
  await db.execute(sql.raw('grant select, insert, update, delete on test_effects to transcribo_system'));
  const userId = newId();
  await asSystem(db, 'test: a job owner', (tx) =>
    tx.execute(sql`insert into users (id, email) values (${userId}, ${uniqueEmail(label)})`),
  );
  return { testDb, userId };
}
