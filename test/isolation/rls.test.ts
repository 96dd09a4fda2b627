import assert from 'node:assert/strict';
import { cp, mkdtemp, readdir, rm, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { App } from '../../src/app.js';
import { queryRows, sql, type AppDatabase, type Database } from '../../src/db/client.js';
import { newId } from '../../src/db/ids.js';
import { migrate, MIGRATIONS_DIR } from '../../src/db/migrate.js';
import { USER_OWNED_TABLES } from '../../src/db/schema.js';
import { APP_ROLE, SYSTEM_ROLE, asSystem, withUser } from '../../src/db/scope.js';
import { describeEachDatabase } from '../helpers/app.js';
import { createEmptyDatabase, type TestDatabase } from '../helpers/databases.js';
import { bearer, createSession, createTextEntry, registerUser, uniqueEmail, type TestUser } from '../helpers/factory.js';

/*
 * Proofs at the database itself, under the role requests run as: whatever a query forgets to
 * filter, Postgres still limits it to the caller's rows. The statements below deliberately
 * have no WHERE on the owner, so only the policies stand between A and B's rows.
 */

type Table = (typeof USER_OWNED_TABLES)[number];

const ownerColumn = (table: Table): string => (table === 'users' ? 'id' : 'user_id');

/** Postgres' "insufficient_privilege": what a WITH CHECK violation raises. */
const RLS_VIOLATION = '42501';

/** Thrown to roll a transaction back after looking at what a statement did. */
class Rollback extends Error {}

/** The Postgres error behind a driver or Drizzle error, wherever in the cause chain it sits. */
function pgError(error: unknown): { code: string; message: string } | undefined {
  for (let e: unknown = error; e; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return e as { code: string; message: string };
  }
  return undefined;
}

function assertRlsViolation(table: Table) {
  return (error: unknown): boolean => {
    const pg = pgError(error);
    assert.ok(pg, `expected a Postgres error, got ${String(error)}`);
    assert.equal(pg.code, RLS_VIOLATION, pg.message);
    assert.match(pg.message, new RegExp(`row-level security policy for table "${table}"`));
    return true;
  };
}

function assertPermissionDenied(table: string) {
  return (error: unknown): boolean => {
    const pg = pgError(error);
    assert.ok(pg, `expected a Postgres error, got ${String(error)}`);
    assert.equal(pg.code, RLS_VIOLATION, pg.message);
    assert.match(pg.message, new RegExp(`permission denied for table ${table}`));
    return true;
  };
}

interface Owner {
  user: TestUser;
  recordingId: string;
  transcriptionId: string;
  /** A transcription without a summary, for planting one (one per transcription, provider and model). */
  spareTranscriptionId: string;
  webhookId: string;
  sessionId: string;
  apiKeyId: string;
}

/** One row in every user-owned table, made through the API as the application makes them. */
async function seedOwner(app: App, db: AppDatabase, label: string): Promise<Owner> {
  const user = await registerUser(app, label); // users + refresh_tokens
  const entry = await createTextEntry(app, user, { title: `${label}'s notes` }); // recordings, transcriptions, transcript_segments
  const edit = await app.inject({
    method: 'PATCH',
    url: `/api/v1/audio/transcription/${entry.transcription.id}/segments/${entry.transcription.segments[0]!.id}`,
    headers: bearer(user.accessToken),
    payload: { text: `${label} corrected` },
  });
  assert.equal(edit.statusCode, 200, edit.body); // transcription_versions
  const session = await createSession(app, user, { transcription_id: entry.transcription.id }); // chat_sessions
  const message = await app.inject({
    method: 'POST',
    url: `/api/v1/chat/sessions/${session.id}/messages`,
    headers: bearer(user.accessToken),
    payload: { content: `${label} asks` },
  });
  assert.equal(message.statusCode, 201, message.body); // chat_messages
  const key = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/api-keys',
    headers: bearer(user.accessToken),
    payload: { name: `${label}'s key` },
  });
  assert.equal(key.statusCode, 201, key.body); // api_keys
  await asSystem(db, 'test: a job as the queue would store it', (tx) =>
    tx.execute(sql`insert into jobs (id, user_id, type, payload, status)
                   values (${newId()}, ${user.userId}, 'transcription', '{}'::jsonb, 'completed')`),
  ); // jobs
  await asSystem(db, 'test: a summary and its usage as the chat service would store them', async (tx) => {
    await tx.execute(sql`insert into transcript_summaries (id, transcription_id, user_id, transcript_hash, content, provider,
                                                           model, input_tokens, output_tokens, latency_ms)
                         values (${newId()}, ${entry.transcription.id}, ${user.userId}, 'h', '{}'::jsonb, 'openai', 'm', 1, 1, 1)`);
    await tx.execute(sql`insert into llm_usage (id, user_id, purpose, provider, model, input_tokens, output_tokens)
                         values (${newId()}, ${user.userId}, 'chat', 'openai', 'm', 1, 1)`);
  }); // transcript_summaries, llm_usage
  const webhookId = newId();
  await asSystem(db, 'test: a webhook and a delivery as the webhook service would store them', async (tx) => {
    await tx.execute(sql`insert into webhooks (id, user_id, url, events, secret)
                         values (${webhookId}, ${user.userId}, 'https://hooks.example', '{chat.completed}', 'whsec_eA==')`);
    await tx.execute(sql`insert into webhook_deliveries (id, webhook_id, user_id, event, payload, message_id)
                         values (${newId()}, ${webhookId}, ${user.userId}, 'chat.completed', '{}'::jsonb, ${`msg_${newId()}`})`);
  }); // webhooks, webhook_deliveries
  const terms = await app.inject({
    method: 'PUT',
    url: '/api/v1/privacy/terms',
    headers: bearer(user.accessToken),
    payload: { terms: [`${label} Secret`] },
  });
  assert.equal(terms.statusCode, 200, terms.body); // privacy_terms
  return {
    webhookId,
    user,
    recordingId: entry.id,
    transcriptionId: entry.transcription.id,
    spareTranscriptionId: (await createTextEntry(app, user, { title: `${label}'s spare` })).transcription.id,
    sessionId: session.id,
    apiKeyId: key.json<{ id: string }>().id,
  };
}

/** An INSERT of a new row owned by `owner.user`, hanging off `owner`'s parent rows. */
function insertFor(table: Table, owner: Owner): ReturnType<typeof sql> {
  const id = newId();
  const userId = owner.user.userId;
  switch (table) {
    case 'users':
      return sql`insert into users (id, email) values (${userId}, ${uniqueEmail('rls')})`;
    case 'refresh_tokens':
      return sql`insert into refresh_tokens (id, user_id, family_id, token_hash, expires_at)
                 values (${id}, ${userId}, ${newId()}, ${`hash-${id}`}, now() + interval '1 day')`;
    case 'api_keys':
      return sql`insert into api_keys (id, user_id, name, prefix, key_hash)
                 values (${id}, ${userId}, 'planted', 'trb_xx', ${`hash-${id}`})`;
    case 'recordings':
      return sql`insert into recordings (id, user_id, title, source, kind, size_bytes, sha256)
                 values (${id}, ${userId}, 'planted', 'upload', 'text', 0, 'x')`;
    case 'transcriptions':
      return sql`insert into transcriptions (id, user_id, recording_id, engine, status)
                 values (${id}, ${userId}, ${owner.recordingId}, 'text', 'queued')`;
    case 'transcript_segments':
      return sql`insert into transcript_segments (id, user_id, transcription_id, index, text)
                 values (${id}, ${userId}, ${owner.transcriptionId}, 999, 'planted')`;
    case 'chat_sessions':
      return sql`insert into chat_sessions (id, user_id, title) values (${id}, ${userId}, 'planted')`;
    case 'chat_messages':
      return sql`insert into chat_messages (id, user_id, session_id, role, content)
                 values (${id}, ${userId}, ${owner.sessionId}, 'user', 'planted')`;
    case 'jobs':
      return sql`insert into jobs (id, user_id, type, payload, status)
                 values (${id}, ${userId}, 'transcription', '{}'::jsonb, 'queued')`;
    case 'transcript_summaries':
      return sql`insert into transcript_summaries (id, transcription_id, user_id, transcript_hash, content, provider, model,
                                                   input_tokens, output_tokens, latency_ms)
                 values (${id}, ${owner.spareTranscriptionId}, ${userId}, 'planted', '{}'::jsonb, 'openai', 'm', 0, 0, 0)`;
    case 'webhooks':
      return sql`insert into webhooks (id, user_id, url, events, secret)
                 values (${id}, ${userId}, 'https://x.example', '{chat.completed}', 'whsec_eA==')`;
    case 'webhook_deliveries':
      return sql`insert into webhook_deliveries (id, webhook_id, user_id, event, payload, message_id)
                 values (${id}, ${owner.webhookId}, ${userId}, 'chat.completed', '{}'::jsonb, 'm')`;
    case 'llm_usage':
      return sql`insert into llm_usage (id, user_id, purpose, provider, model, input_tokens, output_tokens)
                 values (${id}, ${userId}, 'planted', 'openai', 'm', 0, 0)`;
    case 'privacy_terms':
      return sql`insert into privacy_terms (id, user_id, term) values (${id}, ${userId}, ${`planted ${id}`})`;
    case 'transcription_versions':
      return sql`insert into transcription_versions (id, user_id, transcription_id, version, action, changes, segments)
                 values (${id}, ${userId}, ${owner.transcriptionId}, 999, 'edit', '[]'::jsonb, '[]'::jsonb)`;
  }
}

/** A SET clause that really changes each table's rows. */
const TOUCH: Record<Table, string> = {
  users: `email = 'hijacked-' || id || '@example.com'`,
  refresh_tokens: 'revoked_at = now()',
  api_keys: 'revoked_at = now()',
  recordings: `title = 'hijacked'`,
  transcriptions: `text = 'hijacked'`,
  transcript_segments: `text = 'hijacked'`,
  chat_sessions: `title = 'hijacked'`,
  chat_messages: `content = 'hijacked'`,
  jobs: `error = 'hijacked'`,
  transcript_summaries: `model = 'hijacked'`,
  llm_usage: `model = 'hijacked'`,
  webhooks: `url = 'https://hijacked.example'`,
  webhook_deliveries: `last_error = 'hijacked'`,
  privacy_terms: `term = 'hijacked ' || id`,
  transcription_versions: 'reverted_to = 999',
};

/** Every row of `table` owned by `userId`, seen past RLS. */
function rowsOf(db: AppDatabase, table: Table, userId: string): Promise<Record<string, unknown>[]> {
  return asSystem(db, 'test: what is really stored', (tx) =>
    queryRows<Record<string, unknown>>(
      tx,
      sql`select * from ${sql.identifier(table)} where ${sql.identifier(ownerColumn(table))} = ${userId} order by id`,
    ),
  );
}

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
