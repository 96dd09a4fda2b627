import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eq } from 'drizzle-orm';
import type { App } from '../../src/app.js';
import { refreshTokens } from '../../src/db/schema.js';
import { asSystem } from '../../src/db/scope.js';
import { describeEachDatabase } from '../helpers/app.js';
import { bearer, registerUser, type TestUser } from '../helpers/factory.js';
import { assertProblem, sha256Hex } from './support.js';

const REFRESH = '/api/v1/auth/refresh';
const LOGOUT = '/api/v1/auth/logout';
const ME = '/api/v1/auth/me';

function refresh(app: App, token: string) {
  return app.inject({ method: 'POST', url: REFRESH, payload: { refresh_token: token } });
}

function logout(app: App, token: string) {
  return app.inject({ method: 'POST', url: LOGOUT, payload: { refresh_token: token } });
}

interface Pair {
  access_token: string;
  refresh_token: string;
  token_type: string;
  expires_in: number;
  user: { id: string };
}

async function login(app: App, user: TestUser): Promise<Pair> {
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    payload: { email: user.email, password: user.password },
  });
  assert.equal(res.statusCode, 200, res.body);
  return res.json<Pair>();
}

async function assertRefreshes(app: App, token: string, userId: string): Promise<Pair> {
  const res = await refresh(app, token);
  assert.equal(res.statusCode, 200, res.body);
  const pair = res.json<Pair>();
  assert.equal(pair.user.id, userId);
  assert.equal(pair.token_type, 'bearer');
  return pair;
}

describeEachDatabase('auth: refresh tokens', (ctx) => {
  test('refresh rotates: a new working pair, and the old refresh token stops working', async () => {
    const { app } = ctx();
    const user = await registerUser(app, 'rotate');
    const pair = await assertRefreshes(app, user.refreshToken, user.userId);
    assert.notEqual(pair.refresh_token, user.refreshToken);
    assert.notEqual(pair.access_token, user.accessToken);
    assert.ok(Number.isInteger(pair.expires_in) && pair.expires_in > 0);

    const me = await app.inject({ method: 'GET', url: ME, headers: bearer(pair.access_token) });
    assert.equal(me.statusCode, 200, me.body);
    assert.equal(me.json().id, user.userId);

    // The new refresh token itself rotates again.
    const next = await assertRefreshes(app, pair.refresh_token, user.userId);
    assert.notEqual(next.refresh_token, pair.refresh_token);

    // Rotation chain is intact only for the latest one: the first token is spent.
    const old = await refresh(app, user.refreshToken);
    assertProblem(old, 401, 'invalid_token');
  });

  test('reusing a spent refresh token is 401 and revokes its whole family, not other log-ins', async () => {
    const { app } = ctx();
    const user = await registerUser(app, 'reuse');
    const otherSession = await login(app, user);

    const second = await assertRefreshes(app, user.refreshToken, user.userId);
    const third = await assertRefreshes(app, second.refresh_token, user.userId);

    // Someone presents the first (spent) token again: theft is assumed.
    const replay = await refresh(app, user.refreshToken);
    assertProblem(replay, 401, 'invalid_token');

    // The newest token of that family is dead too...
    const newest = await refresh(app, third.refresh_token);
    assertProblem(newest, 401, 'invalid_token');
    // ...and so is the middle one (spent anyway, but must not re-trigger anything odd).
    assertProblem(await refresh(app, second.refresh_token), 401, 'invalid_token');

    // A separate log-in of the same user is a separate family and keeps working.
    const survivor = await assertRefreshes(app, otherSession.refresh_token, user.userId);
    await assertRefreshes(app, survivor.refresh_token, user.userId);
  });

  test('every row of a family is marked revoked in the database after a replay', async () => {
    const { app, database } = ctx();
    const user = await registerUser(app, 'reuse-db');
    const second = await assertRefreshes(app, user.refreshToken, user.userId);
    await assertRefreshes(app, second.refresh_token, user.userId);
    assertProblem(await refresh(app, user.refreshToken), 401, 'invalid_token');

    const rows = await asSystem(database.db, 'test reads refresh tokens', (tx) =>
      tx.select().from(refreshTokens).where(eq(refreshTokens.userId, user.userId)),
    );
    assert.equal(rows.length, 3);
    assert.equal(new Set(rows.map((r) => r.familyId)).size, 1, 'rotation keeps the family');
    for (const row of rows) assert.ok(row.revokedAt, `row ${row.id} not revoked`);
  });

  test('concurrent refreshes with one token (two tabs) all get the same new pair, and the log-in lives on', async () => {
    const { app } = ctx();
    const user = await registerUser(app, 'race');
    const results = await Promise.all([0, 1, 2].map(() => refresh(app, user.refreshToken)));
    for (const r of results) assert.equal(r.statusCode, 200, results.map((x) => `${x.statusCode} ${x.body}`).join('\n'));
    const pairs = results.map((r) => r.json<Pair>());
    for (const pair of pairs.slice(1)) {
      assert.equal(pair.refresh_token, pairs[0]!.refresh_token);
      assert.equal(pair.access_token, pairs[0]!.access_token);
    }
    // Nothing was revoked: the one new pair works, and rotates on.
    const me = await app.inject({ method: 'GET', url: ME, headers: bearer(pairs[0]!.access_token) });
    assert.equal(me.statusCode, 200, me.body);
    await assertRefreshes(app, pairs[0]!.refresh_token, user.userId);
  });

  test('a refresh presented again within the grace answers the same pair, with what time it has left', async () => {
    const { app } = ctx();
    const user = await registerUser(app, 'again');
    const first = await assertRefreshes(app, user.refreshToken, user.userId);
    const again = await assertRefreshes(app, user.refreshToken, user.userId);
    assert.equal(again.refresh_token, first.refresh_token);
    assert.equal(again.access_token, first.access_token);
    assert.ok(again.expires_in <= first.expires_in && again.expires_in > 0, `${again.expires_in} vs ${first.expires_in}`);
  });

  test('refresh tokens are stored only as their SHA-256', async () => {
    const { app, database } = ctx();
    const user = await registerUser(app, 'hashed');
    const rows = await asSystem(database.db, 'test reads refresh tokens', (tx) =>
      tx.select().from(refreshTokens).where(eq(refreshTokens.userId, user.userId)),
    );
    assert.equal(rows.length, 1);
    assert.notEqual(rows[0]!.tokenHash, user.refreshToken);
    assert.equal(rows[0]!.tokenHash, sha256Hex(user.refreshToken));
    assert.ok(rows[0]!.expiresAt.getTime() > Date.now() + 29 * 86_400_000, 'REFRESH_TOKEN_EXPIRE_DAYS=30 default');
  });

  test('an expired refresh token is 401 token_expired', async () => {
    const { app, database } = ctx();
    const user = await registerUser(app, 'stale');
    await asSystem(database.db, 'test ages a refresh token', (tx) =>
      tx
        .update(refreshTokens)
        .set({ expiresAt: new Date(Date.now() - 1000) })
        .where(eq(refreshTokens.tokenHash, sha256Hex(user.refreshToken))),
    );
    assertProblem(await refresh(app, user.refreshToken), 401, 'token_expired');
  });

  test('unknown and malformed refresh tokens: 401 and 422', async () => {
    const { app } = ctx();
    assertProblem(await refresh(app, 'not-a-token-we-ever-issued'), 401, 'invalid_token');
    const empty = await refresh(app, '');
    assertProblem(empty, 422, 'validation_failed');
    const missing = await app.inject({ method: 'POST', url: REFRESH, payload: {} });
    assertProblem(missing, 422, 'validation_failed');
  });

  test('logout is 204 and that refresh token no longer refreshes', async () => {
    const { app } = ctx();
    const user = await registerUser(app, 'logout');
    const other = await login(app, user);
    const res = await logout(app, user.refreshToken);
    assert.equal(res.statusCode, 204, res.body);
    assert.equal(res.body, '');
    assertProblem(await refresh(app, user.refreshToken), 401, 'invalid_token');
    // Logging out twice is fine.
    assert.equal((await logout(app, user.refreshToken)).statusCode, 204);
    // The other log-in is not affected.
    await assertRefreshes(app, other.refresh_token, user.userId);
  });

  test('logout with any token of a family ends the whole family, including its newest token', async () => {
    const { app } = ctx();
    const user = await registerUser(app, 'logout-family');
    const second = await assertRefreshes(app, user.refreshToken, user.userId);
    const third = await assertRefreshes(app, second.refresh_token, user.userId);

    // Logging out with the newest token revokes it.
    const fresh = await login(app, user);
    const freshNext = await assertRefreshes(app, fresh.refresh_token, user.userId);
    assert.equal((await logout(app, freshNext.refresh_token)).statusCode, 204);
    assertProblem(await refresh(app, freshNext.refresh_token), 401, 'invalid_token');

    // Logging out with an old, spent token of a family also kills its current token.
    assert.equal((await logout(app, user.refreshToken)).statusCode, 204);
    assertProblem(await refresh(app, third.refresh_token), 401, 'invalid_token');
  });

  test('logout of an unknown token is 204; a missing token is 422', async () => {
    const { app } = ctx();
    const res = await logout(app, 'never-issued-token');
    assert.equal(res.statusCode, 204, res.body);
    const missing = await app.inject({ method: 'POST', url: LOGOUT, payload: {} });
    assertProblem(missing, 422, 'validation_failed');
  });
});
