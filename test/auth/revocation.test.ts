import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eq } from 'drizzle-orm';
import { buildApp, type App } from '../../src/app.js';
import { refreshTokens } from '../../src/db/schema.js';
import { asSystem } from '../../src/db/scope.js';
import { describeEachDatabase } from '../helpers/app.js';
import { bearer, registerUser } from '../helpers/factory.js';
import { assertBearerRejected, assertProblem, sha256Hex, waitUntil } from './support.js';

/*
 * Logging out, or replaying a spent refresh token, ends a log-in: its access tokens stop too, at
 * once in the process that saw it and within seconds in every other (src/auth/sessions.ts).
 */

const ME = '/api/v1/auth/me';

interface Pair {
  access_token: string;
  refresh_token: string;
}

const me = (app: App, token: string) => app.inject({ method: 'GET', url: ME, headers: bearer(token) });
const refresh = (app: App, token: string) =>
  app.inject({ method: 'POST', url: '/api/v1/auth/refresh', payload: { refresh_token: token } });
const logout = (app: App, token: string) =>
  app.inject({ method: 'POST', url: '/api/v1/auth/logout', payload: { refresh_token: token } });

async function login(app: App, email: string, password: string): Promise<Pair> {
  const res = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password } });
  assert.equal(res.statusCode, 200, res.body);
  return res.json<Pair>();
}

async function refreshed(app: App, token: string): Promise<Pair> {
  const res = await refresh(app, token);
  assert.equal(res.statusCode, 200, res.body);
  return res.json<Pair>();
}

describeEachDatabase('auth: revoking a log-in stops its access tokens', (ctx) => {
  // A second API process on the same database: its own memory of sessions, caches and all.
  let other: App;
  before(async () => {
    other = await buildApp({ config: ctx().config, database: ctx().database });
    await other.ready();
  });
  after(() => other.close());

  test('logout: 401 at once in this process, within seconds in another; other log-ins go on', async () => {
    const { app } = ctx();
    const user = await registerUser(app, 'logout-access');
    const second = await login(app, user.email, user.password);
    // Both processes have seen the token alive (and remember it so for a few seconds).
    assert.equal((await me(app, user.accessToken)).statusCode, 200);
    assert.equal((await me(other, user.accessToken)).statusCode, 200);

    assert.equal((await logout(app, user.refreshToken)).statusCode, 204);
    assertBearerRejected(await me(app, user.accessToken), 'invalid_token');
    await waitUntil('the other process refuses the logged-out token', async () => (await me(other, user.accessToken)).statusCode === 401);
    assertBearerRejected(await me(other, user.accessToken), 'invalid_token');
    // Data routes too, not only /me.
    assertBearerRejected(
      await other.inject({ method: 'GET', url: '/api/v1/audio/', headers: bearer(user.accessToken) }),
      'invalid_token',
    );

    for (const server of [app, other]) {
      const res = await me(server, second.access_token);
      assert.equal(res.statusCode, 200, res.body);
    }
  });

  test('a replay outside the grace revokes the family, and every access token of it', async () => {
    const { app, database } = ctx();
    const user = await registerUser(app, 'replay-access');
    const pair = await refreshed(app, user.refreshToken);
    assert.equal((await me(other, pair.access_token)).statusCode, 200);
    // The first token was traded a minute ago, well past REFRESH_REUSE_GRACE_SECONDS (20).
    await asSystem(database.db, 'test ages a rotation', (tx) =>
      tx
        .update(refreshTokens)
        .set({ usedAt: new Date(Date.now() - 60_000) })
        .where(eq(refreshTokens.tokenHash, sha256Hex(user.refreshToken))),
    );

    assertProblem(await refresh(other, user.refreshToken), 401, 'invalid_token');
    for (const token of [pair.access_token, user.accessToken]) {
      assertBearerRejected(await me(other, token), 'invalid_token');
      await waitUntil('the first process refuses the revoked family', async () => (await me(app, token)).statusCode === 401);
    }
    assertProblem(await refresh(app, pair.refresh_token), 401, 'invalid_token');
  });

  test('within the grace, a replay once the new token was used is still a replay', async () => {
    const { app } = ctx();
    const user = await registerUser(app, 'replay-used');
    const second = await refreshed(app, user.refreshToken);
    const third = await refreshed(app, second.refresh_token);
    assertProblem(await refresh(app, user.refreshToken), 401, 'invalid_token');
    assertBearerRejected(await me(app, third.access_token), 'invalid_token');
    assertProblem(await refresh(app, third.refresh_token), 401, 'invalid_token');
  });

  test('a deleted account ends its log-ins', async () => {
    const { app, database } = ctx();
    const user = await registerUser(app, 'deleted');
    assert.equal((await me(app, user.accessToken)).statusCode, 200);
    await asSystem(database.db, 'test deletes an account', (tx) =>
      tx.execute(`delete from users where id = '${user.userId}'`),
    );
    // A route that reads nothing of the account itself: only the session check can refuse it.
    const list = () => app.inject({ method: 'GET', url: '/api/v1/audio/', headers: bearer(user.accessToken) });
    await waitUntil('the deleted account is refused', async () => (await list()).statusCode === 401);
    assertBearerRejected(await list(), 'invalid_token');
  });
});
