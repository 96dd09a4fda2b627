import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import type { App } from '../../src/app.js';
import { deletePrefix } from '../../src/jobs/redis.js';
import { describeEachDatabase, type TestApp } from '../helpers/app.js';
import { bearer, registerUser } from '../helpers/factory.js';
import { redisSkipReason, TEST_REDIS_URL } from '../helpers/redis.js';
import { assertProblem, sessionOf, signHmac, unsignedToken } from './support.js';

/*
 * The request allowance (RATE_LIMIT_MAX) is per verified user, per address for everyone else, and
 * never touches the health probes (src/http/rate-limit.ts). Each test speaks from its own addresses
 * (light-my-request's remoteAddress), so the tests share one app without sharing counters. The
 * same suite runs with counters in memory and in Redis.
 */

const LIMIT = 5;
type Reply = Awaited<ReturnType<App['inject']>>;

function get(app: App, url: string, remoteAddress: string, token?: string): Promise<Reply> {
  return app.inject({ method: 'GET', url, remoteAddress, headers: token ? bearer(token) : {} });
}

function assertRateLimited(res: Reply): void {
  assertProblem(res, 429, 'rate_limited');
  const retryAfter = Number(res.headers['retry-after']);
  assert.ok(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 60, `retry-after: ${String(res.headers['retry-after'])}`);
}

/** Spends `user`'s whole allowance from `address`; the next request is the first refused. */
async function exhaust(app: App, address: string, token: string): Promise<void> {
  for (let i = 0; i < LIMIT; i++) {
    const res = await get(app, '/api/v1/auth/me', address, token);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['x-ratelimit-remaining'], String(LIMIT - i - 1));
  }
  assertRateLimited(await get(app, '/api/v1/auth/me', address, token));
}

function suite(ctx: () => TestApp): void {
  test('one user spending the allowance limits neither another user at the same address nor the probes', async () => {
    const { app } = ctx();
    const first = await registerUser(app, 'busy');
    const second = await registerUser(app, 'neighbour');
    await exhaust(app, '10.1.0.1', first.accessToken);

    const res = await get(app, '/api/v1/audio/', '10.1.0.1', second.accessToken);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.headers['x-ratelimit-remaining'], String(LIMIT - 1), 'the second user has a bucket of their own');
    for (let i = 0; i < LIMIT + 3; i++) {
      for (const probe of ['/api/v1/health/liveness', '/api/v1/health/readiness']) {
        const health = await get(app, probe, '10.1.0.1', first.accessToken);
        assert.equal(health.statusCode, 200, `${probe}: ${health.body}`);
        assert.equal(health.headers['x-ratelimit-limit'], undefined, `${probe} is not counted`);
      }
    }
    // Anonymous requests from that address have their own bucket, untouched.
    const anonymous = await get(app, '/', '10.1.0.1');
    assert.equal(anonymous.statusCode, 200, anonymous.body);
    // The busy user is limited as a user, from any address.
    assertRateLimited(await get(app, '/api/v1/audio/', '10.1.0.2', first.accessToken));
  });

  test('an API key and an access token of one user share that user\'s allowance', async () => {
    const { app } = ctx();
    const user = await registerUser(app, 'two-credentials');
    const created = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/api-keys',
      headers: bearer(user.accessToken),
      payload: { name: 'ci' },
      remoteAddress: '10.1.0.10',
    });
    assert.equal(created.statusCode, 201, created.body);
    const key = created.json<{ key: string }>().key;
    for (let i = 1; i < LIMIT; i++) assert.equal((await get(app, '/api/v1/auth/me', '10.1.0.11', key)).statusCode, 200);
    assertRateLimited(await get(app, '/api/v1/auth/me', '10.1.0.12', user.accessToken));
    assertRateLimited(await get(app, '/api/v1/auth/me', '10.1.0.11', key));
  });

  test('a flood of bad credentials is limited per address and spends no user\'s allowance', async () => {
    const { app } = ctx();
    const victim = await registerUser(app, 'victim');
    const claimsVictim = { sub: victim.userId, sid: sessionOf(victim.accessToken) };
    const forged = [
      'not-a-token',
      'trb_doesnotexist',
      await signHmac({ ...claimsVictim, secret: 'someone-elses-secret-that-is-long-enough' }),
      unsignedToken({ ...claimsVictim, iss: 'transcribo', aud: 'transcribo', typ: 'access', exp: Math.floor(Date.now() / 1000) + 600 }),
      undefined,
    ];
    for (let i = 0; i < LIMIT; i++) {
      const res = await get(app, '/api/v1/audio/', '10.1.0.20', forged[i % forged.length]);
      assert.equal(res.statusCode, 401, res.body);
    }
    for (const token of forged) assertRateLimited(await get(app, '/api/v1/audio/', '10.1.0.20', token));

    // Tokens that only claimed to be the victim's took nothing from the victim.
    const own = await get(app, '/api/v1/audio/', '10.1.0.20', victim.accessToken);
    assert.equal(own.statusCode, 200, own.body);
    assert.equal(own.headers['x-ratelimit-remaining'], String(LIMIT - 1));
    // Another address starts with its own allowance.
    assertProblem(await get(app, '/api/v1/audio/', '10.1.0.21', 'not-a-token'), 401, 'invalid_token');
  });
}

describeEachDatabase('rate limits per user, counted in memory (RATE_LIMIT_MAX=5)', suite, { RATE_LIMIT_MAX: String(LIMIT) });

describe('rate limits per user, counted in Redis', { skip: redisSkipReason() }, () => {
  const prefix = `test-${randomUUID()}`;
  after(async () => {
    const client = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
    try {
      await deletePrefix(client, prefix);
    } finally {
      client.disconnect();
    }
  });

  describeEachDatabase(
    'RATE_LIMIT_MAX=5, REDIS_URL set',
    (ctx) => {
      suite(ctx);

      test('the counters live in Redis, keyed by user id and never by anything a client sent', async () => {
        const { app } = ctx();
        const user = await registerUser(app, 'redis-keys');
        assert.equal((await get(app, '/api/v1/auth/me', '10.1.0.30', user.accessToken)).statusCode, 200);
        const client = new Redis(TEST_REDIS_URL);
        try {
          const keys = await client.keys(`${prefix}:rate-limit:*`);
          assert.ok(keys.some((key) => key.endsWith(`user:${user.userId}`)), keys.join('\n'));
        } finally {
          client.disconnect();
        }
      });
    },
    { RATE_LIMIT_MAX: String(LIMIT), REDIS_URL: TEST_REDIS_URL, REDIS_PREFIX: prefix },
  );
});
