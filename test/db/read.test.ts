import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { eq, getTableName, sql } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import type { Database } from '../../src/db/client.js';
import { compileRead, readAsUser, reads, type UserRead } from '../../src/db/read.js';
import { recordings, schema, USER_OWNED_TABLES } from '../../src/db/schema.js';
import { APP_ROLE } from '../../src/db/scope.js';
import { AppError } from '../../src/http/errors.js';
import { describeEachDatabase } from '../helpers/app.js';
import { bearer, createSession, createTextEntry, registerUser, type TestUser } from '../helpers/factory.js';

/*
 * The one-message read path (src/db/read.ts): it must run under the request role with the caller's
 * id, leak nothing to the next user of the connection, see only the caller's rows even with no
 * WHERE at all, refuse writes, and carry any value as data, never as SQL.
 */

/** A read of raw SQL text, to look at the session the statement really runs in. */
function rawRead(text: string): UserRead<unknown[]> {
  return { inline: () => text, decode: (row) => row };
}

function pgCode(error: unknown): string | undefined {
  for (let e: unknown = error; e; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

const HOSTILE_TITLES = [
  "O'Brien's notes",
  "'; drop table recordings; --",
  'back\\slash',
  "\\'; select 1; --",
  'trailing backslash \\',
  "E'x' $1 $$ $tag$ /* --",
  '"double" quotes and ünïcödé 🎙',
];

/** Tables the set-up below puts rows of both users in. */
const SEEDED = new Set(['users', 'refresh_tokens', 'recordings', 'transcriptions', 'transcript_segments', 'chat_sessions']);

describeEachDatabase('one-message reads under row-level security', (ctx) => {
  let a: TestUser;
  let b: TestUser;
  let database: Database;

  before(async () => {
    const { app } = ctx();
    database = ctx().database;
    a = await registerUser(app, 'reader-a');
    b = await registerUser(app, 'reader-b');
    for (const owner of [a, b]) {
      const entry = await createTextEntry(app, owner, { title: `${owner.email} notes` });
      await createSession(app, owner, { transcription_id: entry.transcription.id });
    }
    for (const title of HOSTILE_TITLES) await createTextEntry(app, a, { title });
  });

  test(`runs as ${APP_ROLE} with app.user_id set, read-only, in one implicit transaction`, async () => {
    const [row] = await readAsUser(
      database,
      a.userId,
      // Settings made LOCAL by the first statement are still there: both run in one transaction.
      rawRead(`select current_user::text, current_setting('app.user_id'), app_current_user_id()::text,
                      current_setting('transaction_read_only')`),
    );
    assert.deepEqual(row, [APP_ROLE, a.userId, a.userId, 'on']);
  });

  test('leaves nothing behind on the connection', async () => {
    // Idle connections are reused last-in first-out, so these land where the reads just ran.
    for (let i = 0; i < 3; i++) {
      await readAsUser(database, b.userId, rawRead('select 1'));
      const { rows } = await database.pool.query<{ role: string; uid: string; ro: string }>(
        `select current_user::text as role, current_setting('app.user_id', true) as uid,
                current_setting('transaction_read_only') as ro`,
      );
      assert.notEqual(rows[0]?.role, APP_ROLE);
      assert.ok(!rows[0]?.uid, `app.user_id leaked: ${rows[0]?.uid}`);
      assert.equal(rows[0]?.ro, 'off');
    }
  });

  for (const table of USER_OWNED_TABLES) {
    test(`${table}: a select with no WHERE returns only the caller's rows`, async () => {
      const owner = table === 'users' ? 'id' : 'user_id';
      const drizzleTable: PgTable | undefined = Object.values(schema).find((t) => getTableName(t) === table);
      // Every column decoded as drizzle would, where drizzle knows the table (webhooks use plain SQL).
      const compiled = drizzleTable ? compileRead(reads.select().from(drizzleTable)) : null;
      for (const user of [a, b]) {
        const raw = await readAsUser(database, user.userId, rawRead(`select ${owner}::text from ${table}`));
        if (SEEDED.has(table)) assert.ok(raw.length > 0, `${table} has no rows of ${user.email}`);
        assert.deepEqual(new Set(raw.map((row) => row[0])), new Set(raw.length ? [user.userId] : []));
        if (!compiled) continue;
        const rows = (await readAsUser(database, user.userId, compiled)) as Record<string, unknown>[];
        assert.equal(rows.length, raw.length);
        for (const row of rows) assert.equal(table === 'users' ? row.id : row.userId, user.userId);
      }
    });
  }

  test('every user sees their own recordings, and another user id sees none of them', async () => {
    const all = compileRead(reads.select({ id: recordings.id, userId: recordings.userId }).from(recordings));
    const rowsA = await readAsUser(database, a.userId, all);
    assert.equal(rowsA.length, 1 + HOSTILE_TITLES.length);
    const rowsB = await readAsUser(database, b.userId, all);
    assert.equal(rowsB.length, 1);
    assert.deepEqual(await readAsUser(database, '00000000-0000-7000-8000-000000000000', all), []);
  });

  test('writes are refused, and change nothing', async () => {
    for (const text of [`update recordings set title = 'hijacked'`, `delete from recordings`]) {
      await assert.rejects(readAsUser(database, a.userId, rawRead(text)), (error) => pgCode(error) === '25006');
    }
    const titles = await readAsUser(database, a.userId, compileRead(reads.select({ title: recordings.title }).from(recordings)));
    assert.ok(!titles.some((row) => row.title === 'hijacked'));
  });

  test('quotes, backslashes and SQL in a value are data: each finds exactly its own row', async () => {
    const byTitle = compileRead(reads.select().from(recordings).where(eq(recordings.title, sql.placeholder('title'))));
    for (const title of HOSTILE_TITLES) {
      const rows = await readAsUser(database, a.userId, byTitle, { title });
      assert.deepEqual(rows.map((row) => row.title), [title]);
      // B owns no such row: the value cannot widen the query past RLS either.
      assert.deepEqual(await readAsUser(database, b.userId, byTitle, { title }), []);
    }
    assert.deepEqual(await readAsUser(database, a.userId, byTitle, { title: "x' or '1'='1" }), []);
    const { rows } = await database.pool.query<{ n: number }>('select count(*)::int as n from recordings');
    assert.equal(rows[0]?.n, 2 + HOSTILE_TITLES.length);
  });

  test('a NUL in a value is refused with a 400 before anything is sent', async () => {
    const byTitle = compileRead(reads.select().from(recordings).where(eq(recordings.title, sql.placeholder('title'))));
    await assert.rejects(readAsUser(database, a.userId, byTitle, { title: "x\0' or true --" }), (error) => {
      assert.ok(error instanceof AppError);
      assert.equal(error.status, 400);
      return true;
    });
  });

  test('a user id that is not a UUID never reaches the database', async () => {
    for (const userId of ["' or true --", `${a.userId}'`, '']) {
      await assert.rejects(readAsUser(database, userId, rawRead('select 1')), /needs a user id that is a UUID/);
    }
  });

  test('the list and get routes refuse hostile cursors and ids with 422, and page through RLS', async () => {
    const { app } = ctx();
    for (const url of [
      `/api/v1/audio/?cursor=${encodeURIComponent("' or 1=1 --")}`,
      `/api/v1/audio/${encodeURIComponent("x'; drop table recordings; --")}`,
      `/api/v1/audio/?limit=${encodeURIComponent('1; select 1')}`,
    ]) {
      const res = await app.inject({ method: 'GET', url, headers: bearer(a.accessToken) });
      assert.equal(res.statusCode, 422, `${url}: ${res.body}`);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: Awaited<ReturnType<typeof app.inject>> = await app.inject({
        method: 'GET',
        url: `/api/v1/audio/?limit=3${cursor ? `&cursor=${cursor}` : ''}`,
        headers: bearer(a.accessToken),
      });
      assert.equal(res.statusCode, 200, res.body);
      const page = res.json<{ items: { id: string; title: string }[]; next_cursor: string | null }>();
      seen.push(...page.items.map((item) => item.id));
      cursor = page.next_cursor;
    } while (cursor);
    assert.equal(seen.length, 1 + HOSTILE_TITLES.length);
    assert.deepEqual(seen, [...seen].sort().reverse(), 'newest first, no repeats');
    const own = await app.inject({ method: 'GET', url: `/api/v1/audio/${seen[0]}`, headers: bearer(a.accessToken) });
    assert.equal(own.statusCode, 200, own.body);
    assert.equal(own.json<{ title: string }>().title, HOSTILE_TITLES.at(-1));
    const other = await app.inject({ method: 'GET', url: `/api/v1/audio/${seen[0]}`, headers: bearer(b.accessToken) });
    assert.equal(other.statusCode, 404, 'B must not see A’s recording');
  });
});
