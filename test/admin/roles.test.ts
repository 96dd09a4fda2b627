import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { buildApp, type App } from '../../src/app.js';
import { ConfigError, loadConfig, type Env } from '../../src/config.js';
import type { Database } from '../../src/db/client.js';
import { users } from '../../src/db/schema.js';
import { asSystem } from '../../src/db/scope.js';
import { describeEachDatabase, startTestApp, type TestApp } from '../helpers/app.js';
import { testConfig, TEST_SECRET } from '../helpers/config.js';
import { DB_KINDS } from '../helpers/databases.js';
import { bearer, uniqueEmail } from '../helpers/factory.js';

const REGISTER = '/api/v1/auth/register';
const LOGIN = '/api/v1/auth/login';
const ME = '/api/v1/auth/me';
const PASSWORD = 'correct horse battery';
const SUPABASE_SECRET = 'supabase-project-jwt-secret-with-at-least-32-chars';

async function register(app: App, email: string) {
  const res = await app.inject({ method: 'POST', url: REGISTER, payload: { email, password: PASSWORD } });
  assert.equal(res.statusCode, 201, res.body);
  return res.json<{ access_token: string; user: { id: string; email: string; role: string } }>();
}

async function login(app: App, email: string) {
  const res = await app.inject({ method: 'POST', url: LOGIN, payload: { email, password: PASSWORD } });
  assert.equal(res.statusCode, 200, res.body);
  return res.json<{ access_token: string; user: { id: string; role: string } }>();
}

async function roleOnMe(app: App, token: string): Promise<string> {
  const res = await app.inject({ method: 'GET', url: ME, headers: bearer(token) });
  assert.equal(res.statusCode, 200, res.body);
  return res.json<{ role: string }>().role;
}

/** A Supabase access token signed with the project's HS256 secret. */
function supabaseToken(subject: string, email: string): Promise<string> {
  return new SignJWT({ role: 'authenticated', email })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(subject)
    .setAudience('authenticated')
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(SUPABASE_SECRET));
}

async function rolesInDatabase(database: Database): Promise<string[]> {
  const rows = await asSystem(database.db, 'test reads every role', (tx) => tx.select({ role: users.role }).from(users));
  return rows.map((r) => r.role);
}

/** A second app over the same database, e.g. restarted with a different ADMIN_EMAILS. */
async function appOn(database: Database, env: Env): Promise<App> {
  const app = await buildApp({ config: testConfig(env), database });
  await app.ready();
  return app;
}

describe('config: ADMIN_EMAILS', () => {
  const base = { SECRET_KEY: TEST_SECRET, DATA_DIR: '/tmp/transcribo-unused' };

  test('is empty when unset or blank', () => {
    assert.deepEqual(loadConfig(base, { persistSecret: false }).adminEmails, []);
    assert.deepEqual(loadConfig({ ...base, ADMIN_EMAILS: '  ' }, { persistSecret: false }).adminEmails, []);
  });

  test('is split on commas, trimmed, lower-cased, empty entries dropped', () => {
    const config = loadConfig({ ...base, ADMIN_EMAILS: ' Ana@Example.COM , ,ops@example.com,' }, { persistSecret: false });
    assert.deepEqual(config.adminEmails, ['ana@example.com', 'ops@example.com']);
  });

  test('a value that is not an e-mail is a ConfigError naming ADMIN_EMAILS', () => {
    for (const value of ['ana', 'ana@example.com;ops@example.com', 'a b@example.com', '@example.com']) {
      assert.throws(
        () => loadConfig({ ...base, ADMIN_EMAILS: value }, { persistSecret: false }),
        (error: unknown) =>
          error instanceof ConfigError && error.problems.length === 1 && /^ADMIN_EMAILS\b/.test(error.problems[0]!),
        value,
      );
    }
  });
});

describeEachDatabase('admin role: the first account', (ctx) => {
  test('the first account ever registered is admin; the ones after it are not', async () => {
    const { app } = ctx();
    const first = await register(app, uniqueEmail('first'));
    assert.equal(first.user.role, 'admin');
    assert.equal(await roleOnMe(app, first.access_token), 'admin');

    for (const label of ['second', 'third']) {
      const next = await register(app, uniqueEmail(label));
      assert.equal(next.user.role, 'user', label);
      assert.equal(await roleOnMe(app, next.access_token), 'user', label);
    }
    // Logging in again changes nothing.
    assert.equal((await login(app, first.user.email)).user.role, 'admin');
  });
});

describeEachDatabase(
  'admin role: ADMIN_EMAILS',
  (ctx) => {
    const others: App[] = [];
    after(async () => {
      for (const app of others) await app.close();
    });

    test('a listed e-mail is admin at registration, whatever its case; others are users', async () => {
      const { app } = ctx();
      await register(app, uniqueEmail('first-of-all')); // the automatic admin, out of the way
      const boss = await register(app, 'BOSS@example.com');
      assert.equal(boss.user.role, 'admin');
      assert.equal(await roleOnMe(app, boss.access_token), 'admin');
      const clerk = await register(app, uniqueEmail('clerk'));
      assert.equal(clerk.user.role, 'user');
    });

    test('an e-mail listed later is promoted at its next log-in, and nobody is demoted', async () => {
      const { app, database } = ctx();
      const email = uniqueEmail('later');
      const before = await register(app, email);
      assert.equal(before.user.role, 'user');
      // Logging in where the address is not listed keeps it a user.
      assert.equal((await login(app, email)).user.role, 'user');

      // The server restarts with the address listed: its next log-in makes it an admin.
      const listed = await appOn(database, { ADMIN_EMAILS: `someone@example.com, ${email.toUpperCase()}` });
      others.push(listed);
      const promoted = await login(listed, email);
      assert.equal(promoted.user.role, 'admin');
      // The promotion is in the database: the token from before sees it too.
      assert.equal(await roleOnMe(app, before.access_token), 'admin');

      // Back on a server where it is not listed: still admin.
      const again = await login(app, email);
      assert.equal(again.user.role, 'admin');
    });

    test('a Supabase user is admin at first sight when listed, and promoted on a later request when listed later', async () => {
      const { app, database } = ctx();
      const chief = await supabaseToken(randomUUID(), 'Chief@Example.com');
      assert.equal(await roleOnMe(app, chief), 'admin');

      const email = uniqueEmail('supa-later');
      const token = await supabaseToken(randomUUID(), email);
      assert.equal(await roleOnMe(app, token), 'user');
      const listed = await appOn(database, { SUPABASE_JWT_SECRET: SUPABASE_SECRET, ADMIN_EMAILS: email });
      others.push(listed);
      assert.equal(await roleOnMe(listed, token), 'admin');
      assert.equal(await roleOnMe(app, token), 'admin', 'not demoted where it is not listed');
    });
  },
  { ADMIN_EMAILS: ' Boss@Example.com ,chief@EXAMPLE.com', SUPABASE_JWT_SECRET: SUPABASE_SECRET },
);

for (const kind of DB_KINDS) {
  describe(`admin role: concurrent first accounts [${kind}]`, () => {
    let current: TestApp | undefined;
    after(async () => {
      await current?.close();
    });

    test('simultaneous first registrations and Supabase first sights make exactly one admin', async () => {
      current = await startTestApp(kind, { SUPABASE_JWT_SECRET: SUPABASE_SECRET });
      const { app, database } = current;
      for (let round = 0; round < 5; round++) {
        // An empty table again: whoever comes first now is the first account ever.
        await asSystem(database.db, 'test empties the accounts', (tx) => tx.delete(users));
        const tokens = await Promise.all([0, 1, 2].map((i) => supabaseToken(randomUUID(), uniqueEmail(`supa-${i}`))));
        const results = await Promise.all([
          ...[0, 1, 2, 3, 4].map((i) =>
            app.inject({ method: 'POST', url: REGISTER, payload: { email: uniqueEmail(`race-${i}`), password: PASSWORD } }),
          ),
          ...tokens.map((token) => app.inject({ method: 'GET', url: ME, headers: bearer(token) })),
        ]);
        assert.deepEqual(
          results.map((r) => r.statusCode),
          [201, 201, 201, 201, 201, 200, 200, 200],
          results.map((r) => r.body).join('\n'),
        );
        const roles = await rolesInDatabase(database);
        assert.equal(roles.length, 8);
        assert.equal(roles.filter((r) => r === 'admin').length, 1, `round ${round}: ${roles.join(', ')}`);
        // Each reply agrees with the database about who won.
        const replied = results.map((r) => {
          const body = r.json<{ role?: string; user?: { role: string } }>();
          return body.user?.role ?? body.role;
        });
        assert.equal(replied.filter((r) => r === 'admin').length, 1, `round ${round}: ${replied.join(', ')}`);
      }
    });
  });
}
