import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { describeEachDatabase } from '../helpers/app.js';
import { TEST_SECRET } from '../helpers/config.js';
import { bearer, registerUser, type TestUser } from '../helpers/factory.js';
import {
  assertBearerRejected,
  claimsOf,
  nowSeconds,
  secretKey,
  signHmac,
  sessionOf,
  tamperSignature,
  unsignedToken,
} from './support.js';

const ME = '/api/v1/auth/me';

/** The claims that make a token signed here the user's own: its subject and a live log-in. */
const ours = (user: TestUser) => ({ sub: user.userId, sid: sessionOf(user.accessToken) });
const AUDIO = '/api/v1/audio/';

describeEachDatabase('auth: access tokens', (ctx) => {
  test('issued access tokens are HS256 JWTs signed with SECRET_KEY carrying the expected claims', async () => {
    const { app } = ctx();
    const before = nowSeconds();
    const user = await registerUser(app, 'claims');
    const after = nowSeconds();
    const header = decodeProtectedHeader(user.accessToken);
    assert.equal(header.alg, 'HS256');
    assert.equal(header.typ, 'JWT');
    const { payload } = await jwtVerify(user.accessToken, secretKey(TEST_SECRET), {
      issuer: 'transcribo',
      audience: 'transcribo',
      algorithms: ['HS256'],
    });
    assert.equal(payload.sub, user.userId);
    assert.equal(payload.typ, 'access');
    assert.equal(typeof payload.jti, 'string');
    assert.ok(payload.iat! >= before && payload.iat! <= after, `iat ${payload.iat}`);
    // Default ACCESS_TOKEN_EXPIRE_MINUTES is 30.
    assert.equal(payload.exp! - payload.iat!, 30 * 60);

    const second = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: user.email, password: user.password },
    });
    assert.notEqual(claimsOf(second.json().access_token).jti, payload.jti, 'every token has its own jti');
  });

  test('a token signed here with the test secret and the right claims is accepted (control for the rest)', async () => {
    const { app } = ctx();
    const user = await registerUser(app, 'control');
    const token = await signHmac(ours(user));
    const me = await app.inject({ method: 'GET', url: ME, headers: bearer(token) });
    assert.equal(me.statusCode, 200, me.body);
    assert.equal(me.json().id, user.userId);
    const audio = await app.inject({ method: 'GET', url: AUDIO, headers: bearer(token) });
    assert.equal(audio.statusCode, 200, audio.body);
  });

  test('an expired token is 401 token_expired', async () => {
    const { app } = ctx();
    const user = await registerUser(app, 'expired');
    const now = nowSeconds();
    const token = await signHmac({ ...ours(user), exp: now - 60, claims: { iat: now - 3600 } });
    for (const url of [ME, AUDIO]) {
      const res = await app.inject({ method: 'GET', url, headers: bearer(token) });
      assertBearerRejected(res, 'token_expired');
    }
    // Just expired counts too: no silent leeway.
    const justNow = await signHmac({ ...ours(user), exp: now - 1 });
    assertBearerRejected(await app.inject({ method: 'GET', url: ME, headers: bearer(justNow) }), 'token_expired');
  });

  test('a token with a wrong signature is 401 invalid_token', async () => {
    const { app } = ctx();
    const user = await registerUser(app, 'sig');
    const tampered = tamperSignature(user.accessToken);
    assertBearerRejected(await app.inject({ method: 'GET', url: ME, headers: bearer(tampered) }), 'invalid_token');

    const otherSecret = await signHmac({ ...ours(user), secret: 'another-secret-that-is-long-enough-for-hs256' });
    assertBearerRejected(await app.inject({ method: 'GET', url: ME, headers: bearer(otherSecret) }), 'invalid_token');

    // A valid signature over different claims: swap in another user's payload.
    const other = await registerUser(app, 'sig-other');
    const [header, , signature] = user.accessToken.split('.');
    const [, otherPayload] = other.accessToken.split('.');
    const spliced = `${header}.${otherPayload}.${signature}`;
    assertBearerRejected(await app.inject({ method: 'GET', url: ME, headers: bearer(spliced) }), 'invalid_token');
  });

  test('an unsigned alg:none token is 401', async () => {
    const { app } = ctx();
    const user = await registerUser(app, 'none');
    const now = nowSeconds();
    const payload = {
      ...ours(user),
      iss: 'transcribo',
      aud: 'transcribo',
      typ: 'access',
      iat: now,
      exp: now + 600,
    };
    const none = unsignedToken(payload);
    assert.equal(none.split('.')[2], '', 'empty signature');
    for (const url of [ME, AUDIO]) {
      assertBearerRejected(await app.inject({ method: 'GET', url, headers: bearer(none) }), 'invalid_token');
    }
    // The same, keeping the real signature but claiming alg none.
    const [, , realSignature] = user.accessToken.split('.');
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    const withSig = `${header}.${body}.${realSignature}`;
    assertBearerRejected(await app.inject({ method: 'GET', url: ME, headers: bearer(withSig) }), 'invalid_token');
  });

  test('a wrong or missing issuer is 401 invalid_token', async () => {
    const { app } = ctx();
    const user = await registerUser(app, 'iss');
    for (const issuer of ['someone-else', 'Transcribo', 'transcribo ', null]) {
      const token = await signHmac({ ...ours(user), issuer });
      const res = await app.inject({ method: 'GET', url: ME, headers: bearer(token) });
      assertBearerRejected(res, 'invalid_token');
    }
  });

  test('a wrong or missing audience is 401 invalid_token', async () => {
    const { app } = ctx();
    const user = await registerUser(app, 'aud');
    for (const audience of ['authenticated', 'someone-else', null]) {
      const token = await signHmac({ ...ours(user), audience });
      const res = await app.inject({ method: 'GET', url: ME, headers: bearer(token) });
      assertBearerRejected(res, 'invalid_token');
    }
  });

  test('a token signed with HS384 or HS512 is refused when ALGORITHM is HS256', async () => {
    const { app } = ctx();
    const user = await registerUser(app, 'alg');
    for (const alg of ['HS512', 'HS384']) {
      const token = await signHmac({ ...ours(user), alg });
      assert.equal(decodeProtectedHeader(token).alg, alg);
      const res = await app.inject({ method: 'GET', url: ME, headers: bearer(token) });
      assertBearerRejected(res, 'invalid_token');
    }
  });

  test('tokens missing sub or exp, or not of typ access, are refused', async () => {
    const { app } = ctx();
    const user = await registerUser(app, 'shape');
    const tokens = [
      await signHmac({ sub: null }),
      await signHmac({ ...ours(user), exp: null }),
      await signHmac({ ...ours(user), claims: { typ: 'refresh' } }),
      await signHmac({ ...ours(user), claims: { typ: undefined } }),
    ];
    for (const token of tokens) {
      const res = await app.inject({ method: 'GET', url: ME, headers: bearer(token) });
      assertBearerRejected(res, 'invalid_token');
    }
  });

  test('a refresh token is not a bearer credential', async () => {
    const { app } = ctx();
    const user = await registerUser(app, 'refresh-as-bearer');
    const res = await app.inject({ method: 'GET', url: ME, headers: bearer(user.refreshToken) });
    assertBearerRejected(res, 'invalid_token');
  });
});

describeEachDatabase(
  'auth: token settings (ACCESS_TOKEN_EXPIRE_MINUTES=7, ALGORITHM=HS512, custom issuer/audience)',
  (ctx) => {
    test('expires_in and the JWT exp follow ACCESS_TOKEN_EXPIRE_MINUTES on register, login and refresh', async () => {
      const { app, config } = ctx();
      assert.equal(config.accessTokenExpireMinutes, 7);
      const before = nowSeconds();
      const user = await registerUser(app, 'ttl');
      const login = await app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { email: user.email, password: user.password },
      });
      assert.equal(login.statusCode, 200, login.body);
      const refresh = await app.inject({
        method: 'POST',
        url: '/api/v1/auth/refresh',
        payload: { refresh_token: login.json().refresh_token },
      });
      assert.equal(refresh.statusCode, 200, refresh.body);
      const after = nowSeconds();

      for (const pair of [login.json(), refresh.json()]) {
        assert.equal(pair.expires_in, 7 * 60);
        const claims = claimsOf(pair.access_token);
        assert.equal(claims.exp! - claims.iat!, 7 * 60);
        assert.ok(claims.exp! >= before + 7 * 60 && claims.exp! <= after + 7 * 60, `exp ${claims.exp}`);
      }
      const registered = claimsOf(user.accessToken);
      assert.equal(registered.exp! - registered.iat!, 7 * 60);
    });

    test('tokens are issued with ALGORITHM and the configured issuer and audience', async () => {
      const { app } = ctx();
      const user = await registerUser(app, 'hs512');
      assert.equal(decodeProtectedHeader(user.accessToken).alg, 'HS512');
      const { payload } = await jwtVerify(user.accessToken, secretKey(TEST_SECRET), {
        algorithms: ['HS512'],
        issuer: 'custom-issuer',
        audience: 'custom-audience',
      });
      assert.equal(payload.sub, user.userId);
      const me = await app.inject({ method: 'GET', url: ME, headers: bearer(user.accessToken) });
      assert.equal(me.statusCode, 200, me.body);
    });

    test('with ALGORITHM=HS512 an HS256 token is refused even with the right secret and claims', async () => {
      const { app } = ctx();
      const user = await registerUser(app, 'hs256-refused');
      const claims = { ...ours(user), issuer: 'custom-issuer', audience: 'custom-audience' };
      const good = await signHmac({ ...claims, alg: 'HS512' });
      assert.equal((await app.inject({ method: 'GET', url: ME, headers: bearer(good) })).statusCode, 200);
      const hs256 = await signHmac({ ...claims, alg: 'HS256' });
      assertBearerRejected(await app.inject({ method: 'GET', url: ME, headers: bearer(hs256) }), 'invalid_token');
    });

    test('the default issuer and audience are refused once others are configured', async () => {
      const { app } = ctx();
      const user = await registerUser(app, 'default-claims');
      const defaults = await signHmac({ ...ours(user), alg: 'HS512' });
      assertBearerRejected(await app.inject({ method: 'GET', url: ME, headers: bearer(defaults) }), 'invalid_token');
    });
  },
  {
    ACCESS_TOKEN_EXPIRE_MINUTES: '7',
    ALGORITHM: 'HS512',
    JWT_ISSUER: 'custom-issuer',
    JWT_AUDIENCE: 'custom-audience',
  },
);
