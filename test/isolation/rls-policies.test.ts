import assert from 'node:assert/strict';
import { test } from 'node:test';
import { queryRows, sql, type AppDatabase } from '../../src/db/client.js';
import { USER_OWNED_TABLES } from '../../src/db/schema.js';
import { APP_ROLE, SYSTEM_ROLE } from '../../src/db/scope.js';
import { describeEachDatabase } from '../helpers/app.js';
import { ownerColumn } from './rls-fixture.js';

/*
 * The policies as the catalog holds them: every user-owned table has RLS enabled and forced,
 * with the same owner and system policies, and no table with a user_id is left off the list.
 */

describeEachDatabase('row-level security under the request role', (ctx) => {
  const db = (): AppDatabase => ctx().database.db;

  for (const table of USER_OWNED_TABLES) {
    test(`${table}: RLS is enabled and forced, with the owner and system policies`, async () => {
      const [cls] = await queryRows<{ relrowsecurity: boolean; relforcerowsecurity: boolean }>(
        db(),
        sql`select relrowsecurity, relforcerowsecurity from pg_class
            where oid = to_regclass(${`public.${table}`})`,
      );
      assert.ok(cls, `${table} does not exist`);
      assert.equal(cls.relrowsecurity, true, 'ROW LEVEL SECURITY not enabled');
      assert.equal(cls.relforcerowsecurity, true, 'ROW LEVEL SECURITY not forced');

      const policies = await queryRows<{
        policyname: string;
        permissive: string;
        roles: string;
        cmd: string;
        qual: string | null;
        with_check: string | null;
      }>(
        db(),
        sql`select policyname, permissive, array_to_string(roles, ',') as roles, cmd, qual, with_check
            from pg_policies where schemaname = 'public' and tablename = ${table} order by policyname`,
      );
      assert.deepEqual(
        policies.map((p) => [p.policyname, p.permissive, p.roles, p.cmd]),
        [
          [`${table}_owner`, 'PERMISSIVE', APP_ROLE, 'ALL'],
          [`${table}_system`, 'PERMISSIVE', SYSTEM_ROLE, 'ALL'],
        ],
      );
      const ownerPolicy = policies[0]!;
      const check = new RegExp(`\\(?${ownerColumn(table)} = app_current_user_id\\(\\)\\)?`);
      assert.match(ownerPolicy.qual ?? '', check);
      assert.match(ownerPolicy.with_check ?? '', check);
    });
  }

  test('every table with a user_id column is in USER_OWNED_TABLES', async () => {
    const withUserId = await queryRows<{ table_name: string }>(
      db(),
      sql`select table_name from information_schema.columns
          where table_schema = 'public' and column_name = 'user_id' order by table_name`,
    );
    const listed = new Set<string>(USER_OWNED_TABLES);
    assert.deepEqual(
      withUserId.map((r) => r.table_name).filter((name) => !listed.has(name)),
      [],
    );
  });
});
