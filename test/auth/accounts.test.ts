import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eq } from 'drizzle-orm';
import { users } from '../../src/db/schema.js';
import { asSystem } from '../../src/db/scope.js';
import { describeEachDatabase } from '../helpers/app.js';
import { bearer, registerUser, uniqueEmail } from '../helpers/factory.js';
import { assertBearerRejected, assertProblem, claimsOf } from './support.js';

const REGISTER = '/api/v1/auth/register';
const LOGIN = '/api/v1/auth/login';
const ME = '/api/v1/auth/me';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface PairBody {
  access_token: string;
  refresh_token: string;
  token_type: string;
  expires_in: number;
  user: { id: string; email: string; role: string; created_at: string } & Record<string, unknown>;
}

function assertTokenPair(body: PairBody, email: string, role = 'user'): void {
  assert.equal(typeof body.access_token, 'string');
  assert.equal(body.access_token.split('.').length, 3, 'access_token is a JWS');
  assert.equal(typeof body.refresh_token, 'string');
  assert.ok(body.refresh_token.length >= 32, 'refresh_token is long enough to be unguessable');
  assert.notEqual(body.refresh_token, body.access_token);
  assert.equal(body.token_type, 'bearer');
  assert.ok(Number.isInteger(body.expires_in) && body.expires_in > 0, `expires_in: ${body.expires_in}`);
  assert.match(body.user.id, UUID);
  assert.equal(body.user.email, email);
  assert.equal(body.user.role, role);
  assert.ok(!Number.isNaN(Date.parse(body.user.created_at)), body.user.created_at);
  assert.equal(body.user.password_hash, undefined);
  assert.equal(body.user.passwordHash, undefined);
  assert.equal(claimsOf(body.access_token).sub, body.user.id);
}

describeEachDatabase('auth: accounts', (ctx) => {
  test('register answers 201 with a token pair for the new user', async () => {
    const { app } = ctx();
    const email = uniqueEmail('reg');
    const res = await app.inject({ method: 'POST', url: REGISTER, payload: { email, password: 'long enough password' } });
    assert.equal(res.statusCode, 201, res.body);
    // The suite's database is fresh, so this is the first account ever: it is the admin.
    assertTokenPair(res.json(), email, 'admin');
  });

  test('register stores the e-mail lower-cased and only an argon2id hash of the password', async () => {
    const { app, database } = ctx();
    const email = uniqueEmail('Mixed.Case');
    const upper = email.toUpperCase();
    const password = 'a password nobody guesses';
    const res = await app.inject({ method: 'POST', url: REGISTER, payload: { email: upper, password } });
    assert.equal(res.statusCode, 201, res.body);
    const body = res.json();
    assert.equal(body.user.email, email.toLowerCase());

    const [row] = await asSystem(database.db, 'test reads the stored account', (tx) =>
      tx.select().from(users).where(eq(users.id, body.user.id)),
    );
    assert.ok(row, 'user row exists');
    assert.equal(row.email, email.toLowerCase());
    assert.ok(row.passwordHash, 'a password hash is stored');
    assert.notEqual(row.passwordHash, password);
    assert.ok(!row.passwordHash.includes(password));
    assert.match(row.passwordHash, /^\$argon2id\$/);
    assert.equal(row.supabaseId, null);

    // And the mixed-case address logs in whatever case it is typed in.
    const login = await app.inject({ method: 'POST', url: LOGIN, payload: { email: upper, password } });
    assert.equal(login.statusCode, 200, login.body);
    assert.equal(login.json().user.id, body.user.id);
  });

  test('a second account with the same e-mail is 409 email_taken, also when only the case differs', async () => {
    const { app } = ctx();
    const user = await registerUser(app, 'dup');
    const same = await app.inject({
      method: 'POST',
      url: REGISTER,
      payload: { email: user.email, password: 'another password' },
    });
    assertProblem(same, 409, 'email_taken');

    const shouted = await app.inject({
      method: 'POST',
      url: REGISTER,
      payload: { email: user.email.toUpperCase(), password: 'another password' },
    });
    assertProblem(shouted, 409, 'email_taken');

    // The original account is untouched: its password still logs in, the second one does not.
    const original = await app.inject({ method: 'POST', url: LOGIN, payload: { email: user.email, password: user.password } });
    assert.equal(original.statusCode, 200, original.body);
    assert.equal(original.json().user.id, user.userId);
    const intruder = await app.inject({
      method: 'POST',
      url: LOGIN,
      payload: { email: user.email, password: 'another password' },
    });
    assertProblem(intruder, 401, 'invalid_credentials');
  });

  test('concurrent registrations of one e-mail: exactly one 201, the rest 409 (never 500)', async () => {
    const { app } = ctx();
    const email = uniqueEmail('race');
    const results = await Promise.all(
      [email, email.toUpperCase(), email, email.toUpperCase()].map((address) =>
        app.inject({ method: 'POST', url: REGISTER, payload: { email: address, password: 'race condition' } }),
      ),
    );
    const statuses = results.map((r) => r.statusCode).sort();
    assert.deepEqual(statuses, [201, 409, 409, 409], results.map((r) => r.body).join('\n'));
    for (const r of results.filter((x) => x.statusCode === 409)) assertProblem(r, 409, 'email_taken');
  });

  test('invalid e-mails and short passwords are 422 naming the field', async () => {
    const { app } = ctx();
    const cases: [Record<string, unknown>, string][] = [
      [{ email: 'not-an-email', password: 'long enough password' }, 'email'],
      [{ email: 'two@@example.com', password: 'long enough password' }, 'email'],
      [{ email: '', password: 'long enough password' }, 'email'],
      [{ email: uniqueEmail('short'), password: 'short' }, 'password'],
      [{ email: uniqueEmail('short'), password: '1234567' }, 'password'],
      [{ email: uniqueEmail('missing') }, 'password'],
      [{ password: 'long enough password' }, 'email'],
    ];
    for (const [payload, field] of cases) {
      const res = await app.inject({ method: 'POST', url: REGISTER, payload });
      const body = assertProblem(res, 422, 'validation_failed');
      const errors = body.errors as { field: string }[];
      assert.ok(Array.isArray(errors) && errors.some((e) => e.field.includes(field)), `${field}: ${res.body}`);
    }
    // Eight characters is the documented minimum and is accepted.
    const eight = await app.inject({
      method: 'POST',
      url: REGISTER,
      payload: { email: uniqueEmail('eight'), password: '12345678' },
    });
    assert.equal(eight.statusCode, 201, eight.body);
  });

  test('login with JSON answers 200 with a fresh token pair', async () => {
    const { app } = ctx();
    const user = await registerUser(app, 'login');
    const res = await app.inject({ method: 'POST', url: LOGIN, payload: { email: user.email, password: user.password } });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assertTokenPair(body, user.email);
    assert.equal(body.user.id, user.userId);
    assert.notEqual(body.refresh_token, user.refreshToken, 'each log-in gets its own refresh token');

    const me = await app.inject({ method: 'GET', url: ME, headers: bearer(body.access_token) });
    assert.equal(me.statusCode, 200, me.body);
    assert.equal(me.json().id, user.userId);
  });

  test('login with the OAuth2 password form (username/password, urlencoded) answers 200', async () => {
    const { app } = ctx();
    const user = await registerUser(app, 'form');
    const res = await app.inject({
      method: 'POST',
      url: LOGIN,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ grant_type: 'password', username: user.email, password: user.password }).toString(),
    });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assertTokenPair(body, user.email);
    assert.equal(body.user.id, user.userId);

    const wrong = await app.inject({
      method: 'POST',
      url: LOGIN,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ username: user.email, password: 'not the password' }).toString(),
    });
    assertProblem(wrong, 401, 'invalid_credentials');
  });

  test('login without any e-mail or username is 422', async () => {
    const { app } = ctx();
    const res = await app.inject({ method: 'POST', url: LOGIN, payload: { password: 'whatever password' } });
    assertProblem(res, 422, 'validation_failed');
    const empty = await app.inject({ method: 'POST', url: LOGIN, payload: { email: uniqueEmail(), password: '' } });
    assertProblem(empty, 422, 'validation_failed');
  });

  test('wrong password and unknown e-mail are the same 401 invalid_credentials', async () => {
    const { app } = ctx();
    const user = await registerUser(app, 'creds');
    const wrongPassword = await app.inject({
      method: 'POST',
      url: LOGIN,
      payload: { email: user.email, password: 'definitely wrong' },
    });
    const unknownEmail = await app.inject({
      method: 'POST',
      url: LOGIN,
      payload: { email: uniqueEmail('nobody'), password: user.password },
    });
    const a = assertProblem(wrongPassword, 401, 'invalid_credentials');
    const b = assertProblem(unknownEmail, 401, 'invalid_credentials');
    // Nothing in the reply may tell which half was wrong.
    const { request_id: _a, ...restA } = a;
    const { request_id: _b, ...restB } = b;
    assert.deepEqual(restA, restB);
    assert.equal(wrongPassword.headers['content-length'], unknownEmail.headers['content-length']);
  });

  test('GET /me returns the current user', async () => {
    const { app } = ctx();
    const user = await registerUser(app, 'me');
    const res = await app.inject({ method: 'GET', url: ME, headers: bearer(user.accessToken) });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.id, user.userId);
    assert.equal(body.email, user.email);
    assert.equal(body.role, 'user');
    assert.ok(!Number.isNaN(Date.parse(body.created_at)));
    assert.equal(body.password_hash, undefined);

    // Each user sees themselves, not the other.
    const other = await registerUser(app, 'me-other');
    const theirs = await app.inject({ method: 'GET', url: ME, headers: bearer(other.accessToken) });
    assert.equal(theirs.json().id, other.userId);
    assert.notEqual(theirs.json().id, user.userId);
  });

  test('the bearer scheme name is case-insensitive', async () => {
    const { app } = ctx();
    const user = await registerUser(app, 'scheme');
    const res = await app.inject({ method: 'GET', url: ME, headers: { authorization: `bearer ${user.accessToken}` } });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().id, user.userId);
  });

  test('no Authorization header is 401 unauthorized with a Bearer challenge and a problem body', async () => {
    const { app } = ctx();
    for (const url of [ME, '/api/v1/auth/api-keys', '/api/v1/audio/']) {
      const res = await app.inject({ method: 'GET', url });
      const body = assertBearerRejected(res, 'unauthorized');
      assert.equal(res.headers['www-authenticate'], 'Bearer', url);
      assert.equal(body.title, 'Unauthorized');
    }
  });

  test('malformed Authorization headers are 401 with a Bearer challenge', async () => {
    const { app } = ctx();
    const user = await registerUser(app, 'malformed');
    const notBearer = [
      `Basic ${Buffer.from(`${user.email}:${user.password}`).toString('base64')}`,
      'Bearer',
      'Bearer ',
      `Bearer ${user.accessToken} extra`,
      `Token ${user.accessToken}`,
      user.accessToken,
      `Bearer: ${user.accessToken}`,
    ];
    for (const authorization of notBearer) {
      const res = await app.inject({ method: 'GET', url: ME, headers: { authorization } });
      assertBearerRejected(res, 'unauthorized');
    }
    // Well-formed header, but the credential is not a token.
    for (const token of ['garbage', 'a.b.c', 'eyJhbGciOiJIUzI1NiJ9..', `${user.accessToken}x`]) {
      const res = await app.inject({ method: 'GET', url: ME, headers: bearer(token) });
      assertBearerRejected(res, 'invalid_token');
    }
  });

  test('a token whose account was deleted is 401 invalid_token on /me and cannot log in', async () => {
    const { app, database } = ctx();
    const user = await registerUser(app, 'deleted');
    await asSystem(database.db, 'test deletes the account', (tx) => tx.delete(users).where(eq(users.id, user.userId)));
    const res = await app.inject({ method: 'GET', url: ME, headers: bearer(user.accessToken) });
    assertProblem(res, 401, 'invalid_token');
    const login = await app.inject({ method: 'POST', url: LOGIN, payload: { email: user.email, password: user.password } });
    assertProblem(login, 401, 'invalid_credentials');
    const refresh = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/refresh',
      payload: { refresh_token: user.refreshToken },
    });
    assertProblem(refresh, 401, 'invalid_token');
  });

  test('a token whose account was deleted is refused on every protected route, with the Bearer challenge', async () => {
    const { app, database } = ctx();
    const user = await registerUser(app, 'deleted-everywhere');
    await asSystem(database.db, 'test deletes the account', (tx) => tx.delete(users).where(eq(users.id, user.userId)));
    const requests = [
      { method: 'GET', url: ME },
      { method: 'GET', url: '/api/v1/audio/' },
      { method: 'POST', url: '/api/v1/audio/upload', payload: { title: 'x', original_text: 'Hola.' } },
      { method: 'POST', url: '/api/v1/auth/api-keys', payload: { name: 'ghost' } },
      { method: 'POST', url: '/api/v1/chat/sessions', payload: { title: 'ghost' } },
    ] as const;
    const seen: string[] = [];
    for (const r of requests) {
      const res = await app.inject({ ...r, headers: bearer(user.accessToken) });
      seen.push(`${r.method} ${r.url} -> ${res.statusCode} ${String(res.headers['www-authenticate'])}`);
    }
    assert.deepEqual(
      seen,
      requests.map((r) => `${r.method} ${r.url} -> 401 Bearer`),
    );
  });
});
