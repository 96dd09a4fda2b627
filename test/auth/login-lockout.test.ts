import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eq } from 'drizzle-orm';
import type { App } from '../../src/app.js';
import { loginAttempts } from '../../src/db/schema.js';
import { asSystem } from '../../src/db/scope.js';
import type { Database } from '../../src/db/client.js';
import { describeEachDatabase } from '../helpers/app.js';
import { registerUser, uniqueEmail } from '../helpers/factory.js';
import { assertProblem, sha256Hex, waitUntil } from './support.js';

/*
 * Log-in attempts are limited per account as well as per address (src/auth/login-throttle.ts):
 * guesses spread over many addresses still make the account wait, and the wait is capped, so the
 * owner gets back in once the guessing stops.
 */

type Reply = Awaited<ReturnType<App['inject']>>;

function login(app: App, email: string, password: string, remoteAddress: string, form = false): Promise<Reply> {
  return form
    ? app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ username: email, password }).toString(),
        remoteAddress,
      })
    : app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password }, remoteAddress });
}

/** Asserts a 429 rate_limited whose Retry-After lies in (min, max] seconds; returns it. */
function assertWaiting(res: Reply, min: number, max: number): number {
  assertProblem(res, 429, 'rate_limited');
  const retryAfter = Number(res.headers['retry-after']);
  assert.ok(Number.isInteger(retryAfter) && retryAfter > min && retryAfter <= max, `retry-after ${String(res.headers['retry-after'])} not in (${min}, ${max}]`);
  return retryAfter;
}

/** Ends the account's current wait, as if its time had passed. */
function endWait(database: Database, email: string): Promise<unknown> {
  return asSystem(database.db, 'test: the wait is over', (tx) =>
    tx
      .update(loginAttempts)
      .set({ lockedUntil: new Date(Date.now() - 1000) })
      .where(eq(loginAttempts.accountKey, sha256Hex(email.toLowerCase()))),
  );
}

const ADDRESSES = Array.from({ length: 10 }, (_, i) => `10.2.0.${i + 1}`);

describeEachDatabase(
  'auth: log-in attempts per account (LOGIN_MAX_FAILURES=3, waits 30 s doubling to 100 s)',
  (ctx) => {
    test('10 addresses × 10 wrong passwords: 3 are answered, the rest wait, the right password too', async () => {
      const { app } = ctx();
      const owner = await registerUser(app, 'guessed');
      const replies: Reply[] = [];
      for (let round = 0; round < 10; round++) {
        // Each round, every address guesses at once, half of them through the OAuth2 form.
        replies.push(...(await Promise.all(ADDRESSES.map((address, i) => login(app, owner.email, `guess ${round}-${i}`, address, i % 2 === 1)))));
      }
      const unauthorized = replies.filter((r) => r.statusCode === 401);
      assert.equal(unauthorized.length, 3, replies.map((r) => r.statusCode).join(' '));
      for (const r of unauthorized) assertProblem(r, 401, 'invalid_credentials');
      for (const r of replies.filter((r) => r.statusCode !== 401)) assertWaiting(r, 0, 30);

      // While the account waits, the right password is refused as well, and never checked.
      assertWaiting(await login(app, owner.email, owner.password, '10.2.1.1'), 0, 30);
      assertWaiting(await login(app, owner.email.toUpperCase(), owner.password, '10.2.1.1', true), 0, 30);
      // Other accounts, at the very same addresses, are not affected.
      const bystander = await registerUser(app, 'bystander');
      const res = await login(app, bystander.email, bystander.password, ADDRESSES[0]!);
      assert.equal(res.statusCode, 200, res.body);
    });

    test('an e-mail no account has waits the same way (a wait says nothing about who exists)', async () => {
      const { app } = ctx();
      const email = uniqueEmail('nobody');
      for (let i = 0; i < 3; i++) assertProblem(await login(app, email, `guess ${i}`, ADDRESSES[i]!), 401, 'invalid_credentials');
      assertWaiting(await login(app, email, 'guess 3', ADDRESSES[3]!), 0, 30);
    });

    test('each further failure doubles the wait, up to LOGIN_BACKOFF_MAX_SECONDS', async () => {
      const { app, database } = ctx();
      const owner = await registerUser(app, 'doubling');
      for (let i = 0; i < 3; i++) assertProblem(await login(app, owner.email, `guess ${i}`, ADDRESSES[i]!), 401, 'invalid_credentials');
      assertWaiting(await login(app, owner.email, 'guess', ADDRESSES[0]!), 0, 30);
      await endWait(database, owner.email);
      assertProblem(await login(app, owner.email, 'guess', ADDRESSES[1]!), 401, 'invalid_credentials');
      assertWaiting(await login(app, owner.email, 'guess', ADDRESSES[2]!), 30, 60);
      await endWait(database, owner.email);
      assertProblem(await login(app, owner.email, 'guess', ADDRESSES[3]!), 401, 'invalid_credentials');
      assertWaiting(await login(app, owner.email, 'guess', ADDRESSES[4]!), 60, 100);
      await endWait(database, owner.email);
      // The right password after a wait: in, and the count starts again.
      assert.equal((await login(app, owner.email, owner.password, ADDRESSES[5]!)).statusCode, 200);
      for (let i = 0; i < 3; i++) assertProblem(await login(app, owner.email, `again ${i}`, ADDRESSES[i]!), 401, 'invalid_credentials');
      assertWaiting(await login(app, owner.email, 'again', ADDRESSES[0]!), 0, 30);
    });
  },
  { LOGIN_MAX_FAILURES: '3', LOGIN_BACKOFF_SECONDS: '30', LOGIN_BACKOFF_MAX_SECONDS: '100' },
);

describeEachDatabase(
  'auth: log-in waits end (LOGIN_MAX_FAILURES=2, LOGIN_BACKOFF_SECONDS=1, LOGIN_BACKOFF_MAX_SECONDS=1)',
  (ctx) => {
    test('the owner logs in again once the wait is over', async () => {
      const { app } = ctx();
      const owner = await registerUser(app, 'returns');
      // Guess until the account waits (on a busy machine a 1 s wait may pass between two guesses).
      let guesses = 0;
      await waitUntil('the account waits', async () => {
        const res = await login(app, owner.email, `guess ${guesses}`, ADDRESSES[guesses++ % ADDRESSES.length]!);
        if (res.statusCode === 401) return false;
        assertWaiting(res, 0, 1);
        return true;
      });
      assert.ok(guesses > 2, 'two failures are answered before any wait');
      await waitUntil('the owner is let in', async () => {
        const res = await login(app, owner.email, owner.password, ADDRESSES[9]!);
        if (res.statusCode === 200) return true;
        assertWaiting(res, 0, 1);
        return false;
      });
    });
  },
  { LOGIN_MAX_FAILURES: '2', LOGIN_BACKOFF_SECONDS: '1', LOGIN_BACKOFF_MAX_SECONDS: '1' },
);
