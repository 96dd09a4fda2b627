import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { eq } from 'drizzle-orm';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import type { App } from '../../src/app.js';
import { users } from '../../src/db/schema.js';
import { asSystem } from '../../src/db/scope.js';
import type { Database } from '../../src/db/client.js';
import { describeEachDatabase, startTestApp } from '../helpers/app.js';
import { TEST_SECRET } from '../helpers/config.js';
import { bearer, registerUser, uniqueEmail } from '../helpers/factory.js';
import {
  assertBearerRejected,
  assertProblem,
  describeEachKind,
  nowSeconds,
  secretKey,
  sessionOf,
  signHmac,
  unsignedToken,
} from './support.js';

const ME = '/api/v1/auth/me';
const SUPABASE_SECRET = 'supabase-project-jwt-secret-with-at-least-32-chars';

interface SupabaseClaims {
  sub?: string | null;
  email?: string | null;
  aud?: string | null;
  iss?: string | null;
  exp?: number;
}

/** A Supabase-shaped access token (role authenticated, aud authenticated). */
async function supabaseToken(
  key: CryptoKey | Uint8Array,
  header: { alg: string; kid?: string },
  claims: SupabaseClaims = {},
): Promise<string> {
  const now = nowSeconds();
  const payload: Record<string, unknown> = { role: 'authenticated' };
  const email = claims.email === undefined ? uniqueEmail('supa') : claims.email;
  if (email !== null) payload.email = email;
  const jwt = new SignJWT(payload)
    .setProtectedHeader({ ...header, typ: 'JWT' })
    .setIssuedAt(now)
    .setExpirationTime(claims.exp ?? now + 3600);
  const sub = claims.sub === undefined ? randomUUID() : claims.sub;
  if (sub !== null) jwt.setSubject(sub);
  const aud = claims.aud === undefined ? 'authenticated' : claims.aud;
  if (aud !== null) jwt.setAudience(aud);
  if (claims.iss) jwt.setIssuer(claims.iss);
  return jwt.sign(key);
}

function me(app: App, token: string) {
  return app.inject({ method: 'GET', url: ME, headers: bearer(token) });
}

async function localUserForSubject(database: Database, subject: string) {
  return asSystem(database.db, 'test reads Supabase-linked accounts', (tx) =>
    tx.select().from(users).where(eq(users.supabaseId, subject)),
  );
}

// --- Supabase with the project's JWT secret (HS256) ---------------------------------------------

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

// --- Supabase with asymmetric keys published as a JWKS under SUPABASE_URL ------------------------

interface KeyPair {
  privateKey: CryptoKey;
  jwk: JWK;
}

async function keyPair(alg: 'RS256' | 'ES256', kid: string): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg);
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { privateKey, jwk };
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

const rsa = await keyPair('RS256', 'rsa-key-1');
const ec = await keyPair('ES256', 'ec-key-1');
const jwksHits: string[] = [];
const jwksServer = createServer((req, res) => {
  jwksHits.push(req.url ?? '');
  if (req.method === 'GET' && req.url === '/auth/v1/.well-known/jwks.json') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: [rsa.jwk, ec.jwk] }));
    return;
  }
  res.writeHead(404).end();
});
const SUPABASE_URL = await listen(jwksServer);
const ISSUER = `${SUPABASE_URL}/auth/v1`;
after(() => close(jwksServer));

describeEachDatabase(
  'auth: Supabase tokens verified against the JWKS under SUPABASE_URL',
  (ctx) => {
    test('an RS256 token signed by the published key is accepted and creates the user once', async () => {
      const { app, database } = ctx();
      const sub = randomUUID();
      const email = uniqueEmail('jwks');
      const token = await supabaseToken(rsa.privateKey, { alg: 'RS256', kid: 'rsa-key-1' }, { sub, email, iss: ISSUER });
      const first = await me(app, token);
      assert.equal(first.statusCode, 200, first.body);
      assert.equal(first.json().email, email);
      assert.ok(jwksHits.includes('/auth/v1/.well-known/jwks.json'), `JWKS fetched: ${jwksHits.join(', ')}`);

      const again = await me(app, token);
      assert.equal(again.json().id, first.json().id);
      const rows = await localUserForSubject(database, sub);
      assert.deepEqual(
        rows.map((r) => r.id),
        [first.json().id],
      );
    });

    test('an ES256 token signed by the other published key is accepted', async () => {
      const { app } = ctx();
      const token = await supabaseToken(ec.privateKey, { alg: 'ES256', kid: 'ec-key-1' }, { iss: ISSUER });
      const res = await me(app, token);
      assert.equal(res.statusCode, 200, res.body);
    });

    test('a token signed by another key is rejected, whatever kid it names', async () => {
      const { app, database } = ctx();
      const stranger = await keyPair('RS256', 'rsa-key-1');
      for (const kid of ['rsa-key-1', 'not-published']) {
        const sub = randomUUID();
        const token = await supabaseToken(stranger.privateKey, { alg: 'RS256', kid }, { sub, iss: ISSUER });
        assertBearerRejected(await me(app, token), 'invalid_token');
        assert.equal((await localUserForSubject(database, sub)).length, 0);
      }
      const strangerEc = await keyPair('ES256', 'ec-key-1');
      const ecToken = await supabaseToken(strangerEc.privateKey, { alg: 'ES256', kid: 'ec-key-1' }, { iss: ISSUER });
      assertBearerRejected(await me(app, ecToken), 'invalid_token');
    });

    test('a wrong or missing issuer is rejected', async () => {
      const { app } = ctx();
      for (const iss of ['https://evil.example/auth/v1', SUPABASE_URL, `${ISSUER}/`, null]) {
        const token = await supabaseToken(rsa.privateKey, { alg: 'RS256', kid: 'rsa-key-1' }, { iss });
        assertBearerRejected(await me(app, token), 'invalid_token');
      }
    });

    test('a wrong audience is rejected', async () => {
      const { app } = ctx();
      for (const aud of ['anon', 'transcribo', null]) {
        const token = await supabaseToken(rsa.privateKey, { alg: 'RS256', kid: 'rsa-key-1' }, { iss: ISSUER, aud });
        assertBearerRejected(await me(app, token), 'invalid_token');
      }
    });

    test('an expired token is 401 token_expired', async () => {
      const { app } = ctx();
      const token = await supabaseToken(
        rsa.privateKey,
        { alg: 'RS256', kid: 'rsa-key-1' },
        { iss: ISSUER, exp: nowSeconds() - 60 },
      );
      assertBearerRejected(await me(app, token), 'token_expired');
    });

    test('HS256 and alg:none tokens are refused in JWKS mode (no algorithm confusion)', async () => {
      const { app } = ctx();
      // HMAC keyed with the public key's own material, the classic confusion attack.
      const confused = await supabaseToken(secretKey(String(rsa.jwk.n)), { alg: 'HS256', kid: 'rsa-key-1' }, { iss: ISSUER });
      assertBearerRejected(await me(app, confused), 'invalid_token');
      const none = unsignedToken({ sub: randomUUID(), iss: ISSUER, aud: 'authenticated', exp: nowSeconds() + 600 });
      assertBearerRejected(await me(app, none), 'invalid_token');
    });

    test('our own access tokens still work with SUPABASE_URL set', async () => {
      const { app } = ctx();
      const user = await registerUser(app, 'local-with-jwks');
      const res = await me(app, user.accessToken);
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().id, user.userId);
    });
  },
  { SUPABASE_URL },
);

// --- When the JWKS cannot be had ---------------------------------------------------------------

describeEachKind('auth: Supabase JWKS outage', (kind) => {
  test('an unreachable JWKS endpoint is 503 service_unavailable, never 500', async () => {
    // A port that was just free: nothing listens there.
    const probe = createServer();
    const url = await listen(probe);
    await close(probe);

    const ctx = await startTestApp(kind, { SUPABASE_URL: url });
    try {
      const token = await supabaseToken(rsa.privateKey, { alg: 'RS256', kid: 'rsa-key-1' }, { iss: `${url}/auth/v1` });
      const res = await me(ctx.app, token);
      assertProblem(res, 503, 'service_unavailable');
    } finally {
      await ctx.close();
    }
  });

  test('a JWKS endpoint answering 500 is 503 service_unavailable, not 401 invalid_token', async () => {
    const broken = createServer((_req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' }).end('upstream down');
    });
    const url = await listen(broken);
    const ctx = await startTestApp(kind, { SUPABASE_URL: url });
    try {
      const token = await supabaseToken(rsa.privateKey, { alg: 'RS256', kid: 'rsa-key-1' }, { iss: `${url}/auth/v1` });
      const res = await me(ctx.app, token);
      assertProblem(res, 503, 'service_unavailable');
    } finally {
      await ctx.close();
      await close(broken);
    }
  });
});
