import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { generateKeyPair } from 'jose';
import { describeEachDatabase } from '../helpers/app.js';
import { TEST_SECRET } from '../helpers/config.js';
import { bearer, registerUser, uniqueEmail } from '../helpers/factory.js';
import { localUserForSubject, me, supabaseToken, type SupabaseClaims } from './supabase-fixture.js';
import {
  assertBearerRejected,
  assertProblem,
  nowSeconds,
  secretKey,
  sessionOf,
  signHmac,
  unsignedToken,
} from './support.js';

const SUPABASE_SECRET = 'supabase-project-jwt-secret-with-at-least-32-chars';

describeEachDatabase(
  'auth: Supabase tokens verified with SUPABASE_JWT_SECRET',
  (ctx) => {
    const hs = (claims: SupabaseClaims = {}, secret = SUPABASE_SECRET) =>
      supabaseToken(secretKey(secret), { alg: 'HS256' }, claims);

    test('a valid token is 200 on /me and creates the local user on first sight, once', async () => {
      const { app, database } = ctx();
      const sub = randomUUID();
      const email = uniqueEmail('supa-first');
      assert.equal((await localUserForSubject(database, sub)).length, 0);

      const first = await me(app, await hs({ sub, email }));
      assert.equal(first.statusCode, 200, first.body);
      const body = first.json();
      assert.equal(body.email, email);
      // The suite's database is fresh, so this is the first account ever: it is the admin.
      assert.equal(body.role, 'admin');

      const rows = await localUserForSubject(database, sub);
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.id, body.id);
      assert.equal(rows[0]!.passwordHash, null, 'Supabase users have no local password');

      // A second request, with a freshly signed token, maps to the same user.
      const second = await me(app, await hs({ sub, email }));
      assert.equal(second.statusCode, 200, second.body);
      assert.equal(second.json().id, body.id);
      assert.equal((await localUserForSubject(database, sub)).length, 1);

      // Different subject, different user.
      const other = await me(app, await hs());
      assert.equal(other.statusCode, 200, other.body);
      assert.notEqual(other.json().id, body.id);
      assert.equal(other.json().role, 'user');
    });

    test('first sight from concurrent requests still creates exactly one user', async () => {
      const { app, database } = ctx();
      const sub = randomUUID();
      const token = await hs({ sub });
      const results = await Promise.all([0, 1, 2, 3, 4].map(() => me(app, token)));
      for (const r of results) assert.equal(r.statusCode, 200, r.body);
      assert.equal(new Set(results.map((r) => r.json<{ id: string }>().id)).size, 1);
      assert.equal((await localUserForSubject(database, sub)).length, 1);
    });

    test('a token without an e-mail gives a user with a null e-mail', async () => {
      const { app } = ctx();
      const res = await me(app, await hs({ email: null }));
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().email, null);
    });

    test('a Supabase user can use the API', async () => {
      const { app } = ctx();
      const token = await hs();
      const upload = await app.inject({
        method: 'POST',
        url: '/api/v1/audio/upload',
        headers: bearer(token),
        payload: { title: 'from supabase', original_text: 'Una frase.' },
      });
      assert.equal(upload.statusCode, 201, upload.body);
      const list = await app.inject({ method: 'GET', url: '/api/v1/audio/', headers: bearer(token) });
      assert.equal(list.statusCode, 200, list.body);
      assert.deepEqual(
        list.json().items.map((r: { id: string }) => r.id),
        [upload.json().id],
      );
    });

    test('a token signed with another secret is 401 and creates no user', async () => {
      const { app, database } = ctx();
      const sub = randomUUID();
      const res = await me(app, await hs({ sub }, 'some-other-secret-that-is-also-long-enough'));
      assertBearerRejected(res, 'invalid_token');
      assert.equal((await localUserForSubject(database, sub)).length, 0);
    });

    test('a wrong or missing audience is 401', async () => {
      const { app, database } = ctx();
      for (const aud of ['anon', 'transcribo', 'service_role', null]) {
        const sub = randomUUID();
        assertBearerRejected(await me(app, await hs({ sub, aud })), 'invalid_token');
        assert.equal((await localUserForSubject(database, sub)).length, 0);
      }
    });

    test('an expired Supabase token is 401 token_expired', async () => {
      const { app } = ctx();
      const res = await me(app, await hs({ exp: nowSeconds() - 60 }));
      assertBearerRejected(res, 'token_expired');
    });

    test('a token without a subject (like the anon key) is 401', async () => {
      const { app } = ctx();
      assertBearerRejected(await me(app, await hs({ sub: null })), 'invalid_token');
      assertBearerRejected(await me(app, await hs({ sub: '' })), 'invalid_token');
    });

    test('only HS256 is accepted with the secret; alg:none and RS256 are refused', async () => {
      const { app } = ctx();
      const now = nowSeconds();
      const none = unsignedToken({ sub: randomUUID(), aud: 'authenticated', role: 'authenticated', exp: now + 600 });
      assertBearerRejected(await me(app, none), 'invalid_token');

      const hs512 = await supabaseToken(secretKey(SUPABASE_SECRET), { alg: 'HS512' });
      assertBearerRejected(await me(app, hs512), 'invalid_token');

      const { privateKey } = await generateKeyPair('RS256');
      const rs = await supabaseToken(privateKey, { alg: 'RS256', kid: 'k' });
      assertBearerRejected(await me(app, rs), 'invalid_token');
    });

    test('our own access tokens and API keys still work alongside Supabase', async () => {
      const { app } = ctx();
      const user = await registerUser(app, 'local-with-supabase');
      const res = await me(app, user.accessToken);
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().id, user.userId);

      const key = await app.inject({
        method: 'POST',
        url: '/api/v1/auth/api-keys',
        headers: bearer(user.accessToken),
        payload: { name: 'k' },
      });
      assert.equal(key.statusCode, 201, key.body);
      const viaKey = await me(app, key.json().key);
      assert.equal(viaKey.statusCode, 200, viaKey.body);
      assert.equal(viaKey.json().id, user.userId);

      // Our own expired tokens still say token_expired rather than being tried as Supabase's.
      const expired = await signHmac({ sub: user.userId, exp: nowSeconds() - 10 });
      assertBearerRejected(await me(app, expired), 'token_expired');
    });

    test('secrets are not interchangeable between our tokens and Supabase tokens', async () => {
      const { app } = ctx();
      const user = await registerUser(app, 'cross');
      // Claims to be ours but is signed with the Supabase secret.
      const forgedOurs = await signHmac({ sub: user.userId, sid: sessionOf(user.accessToken), secret: SUPABASE_SECRET });
      assertBearerRejected(await me(app, forgedOurs), 'invalid_token');
      // Supabase-shaped but signed with our SECRET_KEY.
      const forgedTheirs = await hs({}, TEST_SECRET);
      assertBearerRejected(await me(app, forgedTheirs), 'invalid_token');
    });

    test('a Supabase account cannot log in with a password through /login', async () => {
      const { app } = ctx();
      const email = uniqueEmail('supa-login');
      assert.equal((await me(app, await hs({ email }))).statusCode, 200);
      const res = await app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { email, password: 'anything at all' },
      });
      assertProblem(res, 401, 'invalid_credentials');
    });
  },
  { SUPABASE_JWT_SECRET: SUPABASE_SECRET },
);
