import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { queryRows, sql, type AppDatabase } from '../../src/db/client.js';
import { USER_OWNED_TABLES } from '../../src/db/schema.js';
import { APP_ROLE, SYSTEM_ROLE, asSystem, withUser } from '../../src/db/scope.js';
import { describeEachDatabase } from '../helpers/app.js';
import { assertPermissionDenied, assertRlsViolation, insertFor, Rollback, seedOwner, type Owner } from './rls-fixture.js';

/*
 * The roles requests and the system run as: what the request role may not do even to its own
 * account, what it sees and may write with no user set, and that neither role outlives its
 * transaction or can step around the policies.
 */

describeEachDatabase('row-level security under the request role', (ctx) => {
  let a: Owner;
  const db = (): AppDatabase => ctx().database.db;

  before(async () => {
    const { app } = ctx();
    a = await seedOwner(app, ctx().database.db, 'alice');
    // Another user's rows too, so that "no rows at all" is not just an empty database.
    await seedOwner(app, ctx().database.db, 'bob');
  });

  test(`${APP_ROLE} cannot change an account's role, not even its own; its e-mail it can`, async () => {
    await assert.rejects(
      withUser(db(), a.user.userId, (tx) => tx.execute(sql`update users set role = 'admin' where id = ${a.user.userId}`)),
      assertPermissionDenied('users'),
    );
    await assert.rejects(
      withUser(db(), a.user.userId, async (tx) => {
        const rows = await queryRows(tx, sql`update users set email = 'renamed@example.com', updated_at = now() where id = ${a.user.userId} returning id`);
        assert.equal(rows.length, 1);
        throw new Rollback();
      }),
      Rollback,
    );
  });

  test(`with no app.user_id, ${APP_ROLE} sees no rows at all`, async () => {
    for (const table of USER_OWNED_TABLES) {
      const [unset, empty] = await db().transaction(async (tx) => {
        await tx.execute(sql.raw(`set local role ${APP_ROLE}`));
        const none = await queryRows<{ n: number }>(tx, sql`select count(*)::int as n from ${sql.identifier(table)}`);
        await tx.execute(sql`select set_config('app.user_id', '', true)`);
        const blank = await queryRows<{ n: number }>(tx, sql`select count(*)::int as n from ${sql.identifier(table)}`);
        return [none[0]?.n, blank[0]?.n];
      });
      assert.equal(unset, 0, `${table} with app.user_id unset`);
      assert.equal(empty, 0, `${table} with app.user_id empty`);
    }
  });

  test(`with no app.user_id, ${APP_ROLE} cannot insert either`, async () => {
    await assert.rejects(
      db().transaction(async (tx) => {
        await tx.execute(sql.raw(`set local role ${APP_ROLE}`));
        await tx.execute(insertFor('chat_sessions', a));
      }),
      assertRlsViolation('chat_sessions'),
    );
  });

  test(`withUser runs as ${APP_ROLE} with app.user_id set; asSystem as ${SYSTEM_ROLE}; neither leaks`, async () => {
    const inUser = await withUser(db(), a.user.userId, (tx) =>
      queryRows<{ role: string; uid: string }>(
        tx,
        sql`select current_user as role, current_setting('app.user_id', true) as uid, app_current_user_id()::text as fn`,
      ),
    );
    assert.deepEqual(
      inUser.map((r) => ({ ...r })),
      [{ role: APP_ROLE, uid: a.user.userId, fn: a.user.userId }],
    );
    assert.equal(APP_ROLE, 'transcribo_app');

    const inSystem = await asSystem(db(), 'test', (tx) =>
      queryRows<{ role: string }>(tx, sql`select current_user as role`),
    );
    assert.equal(inSystem[0]?.role, 'transcribo_system');
    assert.equal(SYSTEM_ROLE, 'transcribo_system');

    // SET LOCAL ends with the transaction: the next statement on the connection is back to normal.
    for (let i = 0; i < 3; i++) {
      const [after] = await queryRows<{ role: string; uid: string | null }>(
        db(),
        sql`select current_user as role, nullif(current_setting('app.user_id', true), '') as uid`,
      );
      assert.ok(after && after.role !== APP_ROLE && after.role !== SYSTEM_ROLE, `role ${after?.role} leaked`);
      assert.equal(after.uid, null);
    }
  });

  test('the request roles cannot bypass RLS', async () => {
    const roles = await queryRows<{ rolname: string; rolsuper: boolean; rolbypassrls: boolean; rolcanlogin: boolean }>(
      db(),
      sql`select rolname, rolsuper, rolbypassrls, rolcanlogin from pg_roles
          where rolname in (${APP_ROLE}, ${SYSTEM_ROLE}) order by rolname`,
    );
    assert.deepEqual(
      roles.map((r) => ({ ...r })),
      [
        { rolname: APP_ROLE, rolsuper: false, rolbypassrls: false, rolcanlogin: false },
        { rolname: SYSTEM_ROLE, rolsuper: false, rolbypassrls: false, rolcanlogin: false },
      ],
    );
    // Owners skip non-forced RLS; the request roles must own nothing.
    const owned = await queryRows<{ relname: string }>(
      db(),
      sql`select c.relname from pg_class c join pg_roles r on r.oid = c.relowner
          where r.rolname in (${APP_ROLE}, ${SYSTEM_ROLE})`,
    );
    assert.deepEqual(owned, []);
  });
});
