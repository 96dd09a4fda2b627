import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { App } from '../../src/app.js';
import { describeEachDatabase } from '../helpers/app.js';
import { bearer, uniqueEmail } from '../helpers/factory.js';
import { assertProblem } from './support.js';

const LIMIT = 3;
const PASSWORD = 'long enough password';

type Reply = Awaited<ReturnType<App['inject']>>;

/*
 * The limiter counts per client address and per route. Each test speaks from its own address
 * (light-my-request's remoteAddress), so the tests share one app without sharing counters.
 */
function client(app: App, remoteAddress: string) {
  const post = (url: string, payload: Record<string, string>, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url, payload, headers, remoteAddress });
  return {
    register: (email: string) => post('/api/v1/auth/register', { email, password: PASSWORD }),
    login: (email: string, password: string) => post('/api/v1/auth/login', { email, password }),
    loginForm: (username: string, password: string) =>
      app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ username, password }).toString(),
        remoteAddress,
      }),
    refresh: (token: string) => post('/api/v1/auth/refresh', { refresh_token: token }),
    me: (token: string) => app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(token), remoteAddress }),
  };
}

function assertRateLimited(res: Reply): void {
  assertProblem(res, 429, 'rate_limited');
  const retryAfter = Number(res.headers['retry-after']);
  assert.ok(
    Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 60,
    `retry-after: ${String(res.headers['retry-after'])}`,
  );
}

describeEachDatabase(
  'auth: rate limiting of credential routes (AUTH_RATE_LIMIT_MAX=3)',
  (ctx) => {
    test('the 4th login attempt within a minute is 429 rate_limited with retry-after, even with the right password', async () => {
      const { app } = ctx();
      const c = client(app, '10.0.0.1');
      const email = uniqueEmail('limited');
      const registered = await c.register(email);
      assert.equal(registered.statusCode, 201, registered.body);
      const accessToken = registered.json<{ access_token: string }>().access_token;

      for (let i = 0; i < LIMIT; i++) {
        const res = await c.login(email, `wrong guess ${i}`);
        assertProblem(res, 401, 'invalid_credentials');
        assert.equal(res.headers['x-ratelimit-limit'], String(LIMIT));
        assert.equal(res.headers['x-ratelimit-remaining'], String(LIMIT - i - 1));
      }
      assertRateLimited(await c.login(email, PASSWORD));
      // The OAuth2 form is the same route and is limited too.
      assertRateLimited(await c.loginForm(email, PASSWORD));

      // Ordinary authenticated routes are not held to the credential limit.
      for (let i = 0; i < LIMIT + 2; i++) {
        const me = await c.me(accessToken);
        assert.equal(me.statusCode, 200, me.body);
      }
    });

    test('register is limited the same way', async () => {
      const { app } = ctx();
      const c = client(app, '10.0.0.2');
      for (let i = 0; i < LIMIT; i++) {
        const res = await c.register(uniqueEmail('flood'));
        assert.equal(res.statusCode, 201, res.body);
      }
      assertRateLimited(await c.register(uniqueEmail('flood')));
    });

    test('refresh is limited the same way', async () => {
      const { app } = ctx();
      const c = client(app, '10.0.0.3');
      const registered = await c.register(uniqueEmail('refresh-flood'));
      assert.equal(registered.statusCode, 201, registered.body);
      let token = registered.json<{ refresh_token: string }>().refresh_token;
      for (let i = 0; i < LIMIT; i++) {
        const res = await c.refresh(token);
        assert.equal(res.statusCode, 200, res.body);
        token = res.json<{ refresh_token: string }>().refresh_token;
      }
      assertRateLimited(await c.refresh(token));
    });

    test('the limit is per client: another address can still log in', async () => {
      const { app } = ctx();
      const guesser = client(app, '10.0.0.4');
      const owner = client(app, '10.0.0.5');
      const email = uniqueEmail('per-client');
      assert.equal((await owner.register(email)).statusCode, 201);
      for (let i = 0; i < LIMIT; i++) assertProblem(await guesser.login(email, `guess ${i}`), 401, 'invalid_credentials');
      assertRateLimited(await guesser.login(email, `guess ${LIMIT}`));

      const res = await owner.login(email, PASSWORD);
      assert.equal(res.statusCode, 200, res.body);
    });
  },
  { AUTH_RATE_LIMIT_MAX: String(LIMIT) },
);
