import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { after, test } from 'node:test';
import { describeEachDatabase } from '../helpers/app.js';
import { registerUser, uniqueEmail } from '../helpers/factory.js';
import { close, keyPair, listen, localUserForSubject, me, supabaseToken } from './supabase-fixture.js';
import { assertBearerRejected, nowSeconds, secretKey, unsignedToken } from './support.js';

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
