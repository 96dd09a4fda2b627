import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { queryRows, sql, type AppDatabase } from '../../src/db/client.js';
import { USER_OWNED_TABLES } from '../../src/db/schema.js';
import { withUser } from '../../src/db/scope.js';
import { describeEachDatabase } from '../helpers/app.js';
import {
  assertPermissionDenied,
  assertRlsViolation,
  insertFor,
  ownerColumn,
  Rollback,
  rowsOf,
  seedOwner,
  TOUCH,
  type Owner,
} from './rls-fixture.js';

/*
 * Proofs at the database itself, under the role requests run as: whatever a query forgets to
 * filter, Postgres still limits it to the caller's rows. The statements below deliberately
 * have no WHERE on the owner, so only the policies stand between A and B's rows.
 */

describeEachDatabase('row-level security under the request role', (ctx) => {
  let a: Owner;
  let b: Owner;
  const db = (): AppDatabase => ctx().database.db;

  before(async () => {
    const { app } = ctx();
    a = await seedOwner(app, ctx().database.db, 'alice');
    b = await seedOwner(app, ctx().database.db, 'bob');
  });

  test('precondition: both users have rows in every user-owned table', async () => {
    for (const table of USER_OWNED_TABLES) {
      assert.ok((await rowsOf(db(), table, a.user.userId)).length > 0, `${table} has no rows of A`);
      assert.ok((await rowsOf(db(), table, b.user.userId)).length > 0, `${table} has no rows of B`);
    }
  });

  for (const table of USER_OWNED_TABLES) {
    test(`${table}: A selecting with no WHERE sees exactly A's rows`, async () => {
      const owner = ownerColumn(table);
      const seen = await withUser(db(), a.user.userId, (tx) =>
        queryRows<{ owner: string; id: string }>(
          tx,
          sql`select id, ${sql.identifier(owner)} as owner from ${sql.identifier(table)}`,
        ),
      );
      assert.ok(seen.length > 0);
      assert.deepEqual(
        seen.filter((row) => row.owner !== a.user.userId),
        [],
      );
      const stored = await rowsOf(db(), table, a.user.userId);
      assert.deepEqual(seen.map((row) => row.id).sort(), stored.map((row) => String(row.id)).sort());
    });
  }

  for (const table of USER_OWNED_TABLES) {
    test(`${table}: A inserting a row with B's ${ownerColumn(table)} violates WITH CHECK`, async () => {
      const before = await rowsOf(db(), table, b.user.userId);
      await assert.rejects(
        withUser(db(), a.user.userId, (tx) => tx.execute(insertFor(table, b))),
        assertRlsViolation(table),
      );
      assert.deepEqual(await rowsOf(db(), table, b.user.userId), before);

      // The same statement with A's own id and parents is accepted: the refusal above is the policy's.
      if (table !== 'users') {
        await assert.rejects(
          withUser(db(), a.user.userId, async (tx) => {
            await tx.execute(insertFor(table, a));
            throw new Rollback();
          }),
          Rollback,
        );
      }
    });
  }

  for (const table of USER_OWNED_TABLES) {
    test(`${table}: A updating or deleting B's rows affects 0 rows`, async () => {
      const owner = sql.identifier(ownerColumn(table));
      const t = sql.identifier(table);
      const before = await rowsOf(db(), table, b.user.userId);
      const aBefore = await rowsOf(db(), table, a.user.userId);

      const updated = await withUser(db(), a.user.userId, (tx) =>
        queryRows(tx, sql`update ${t} set ${sql.raw(TOUCH[table])} where ${owner} = ${b.user.userId} returning id`),
      );
      assert.equal(updated.length, 0);
      const deleted = await withUser(db(), a.user.userId, (tx) =>
        queryRows(tx, sql`delete from ${t} where ${owner} = ${b.user.userId} returning id`),
      );
      assert.equal(deleted.length, 0);

      // With no WHERE at all, only A's own rows are touched (rolled back so A keeps them).
      for (const statement of [
        sql`update ${t} set ${sql.raw(TOUCH[table])} returning ${owner} as owner`,
        sql`delete from ${t} returning ${owner} as owner`,
      ]) {
        await assert.rejects(
          withUser(db(), a.user.userId, async (tx) => {
            const rows = await queryRows<{ owner: string }>(tx, statement);
            assert.ok(rows.length > 0);
            assert.deepEqual(new Set(rows.map((row) => row.owner)), new Set([a.user.userId]));
            throw new Rollback();
          }),
          Rollback,
        );
      }

      assert.deepEqual(await rowsOf(db(), table, b.user.userId), before);
      assert.deepEqual(await rowsOf(db(), table, a.user.userId), aBefore);
    });
  }

  for (const table of USER_OWNED_TABLES) {
    test(`${table}: A cannot hand A's rows over to B`, async () => {
      const owner = sql.identifier(ownerColumn(table));
      await assert.rejects(
        withUser(db(), a.user.userId, (tx) =>
          tx.execute(
            sql`update ${sql.identifier(table)} set ${owner} = ${b.user.userId} where ${owner} = ${a.user.userId}`,
          ),
        ),
        // An account's id is not writable by requests at all (0007), before RLS is even asked.
        table === 'users' ? assertPermissionDenied('users') : assertRlsViolation(table),
      );
    });
  }
});
