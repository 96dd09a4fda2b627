import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Queue } from 'bullmq';
import { eq } from 'drizzle-orm';
import type { LightMyRequestResponse as Response } from 'fastify';
import { registerQueueDashboard } from '../../src/admin/queue-dashboard.js';
import { users } from '../../src/db/schema.js';
import { asSystem } from '../../src/db/scope.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { DB_KINDS } from '../helpers/databases.js';
import { bearer, registerUser, type TestUser } from '../helpers/factory.js';
import { assertRedisAvailable, redisSkipReason, testQueues } from '../helpers/redis.js';
import { assertBearerRejected, assertProblem, claimsOf, signHmac } from '../auth/support.js';

const BOARD = '/admin/queues';
const API = `${BOARD}/api/queues`;
const SESSION = '/admin/session';
const COOKIE = 'transcribo_admin';
const QUEUE = 'transcriptions';

/** The `name=value` part of a Set-Cookie, ready for a Cookie header, and its attributes. */
function parseSetCookie(res: Response): { pair: string; value: string; attributes: string[] } {
  const header = res.headers['set-cookie'];
  assert.ok(typeof header === 'string', `one Set-Cookie expected, got ${String(header)}`);
  const [pair = '', ...attributes] = header.split(';').map((part) => part.trim());
  assert.ok(pair.startsWith(`${COOKIE}=`), header);
  return { pair, value: pair.slice(COOKIE.length + 1), attributes };
}

for (const kind of DB_KINDS) {
  describe(`admin: queue dashboard [${kind}]`, { skip: redisSkipReason() }, () => {
    const queues = testQueues();
    let current: TestApp | undefined;
    let queue: Queue;
    let admin: TestUser;
    let user: TestUser;
    /** Same-origin URLs of the page's scripts and styles, read from the page itself. */
    let assets: string[] = [];

    const ctx = () => {
      if (!current) throw new Error('test app not started');
      return current;
    };

    before(async () => {
      assertRedisAvailable();
      current = await startTestApp(
        kind,
        // TRUST_PROXY lets a test say the request came over https (X-Forwarded-Proto).
        { TRUST_PROXY: 'true' },
        {
          beforeReady: async (app, database) => {
            queue = queues.create(QUEUE);
            await registerQueueDashboard(app, { queues: [queue], auth: app.runtime.services.auth, db: database.db });
          },
        },
      );
      // A fresh database: the first account is the admin, the next one is not.
      admin = await registerUser(current.app, 'admin');
      user = await registerUser(current.app, 'user');
      assert.equal((await ctx().app.inject({ url: '/api/v1/auth/me', headers: bearer(admin.accessToken) })).json().role, 'admin');
      assert.equal((await ctx().app.inject({ url: '/api/v1/auth/me', headers: bearer(user.accessToken) })).json().role, 'user');

      const page = await current.app.inject({ url: BOARD, headers: bearer(admin.accessToken) });
      assert.equal(page.statusCode, 200, page.body);
      assets = [...page.body.matchAll(/(?:src|href)="(static\/[^"]+)"/g)].map((m) => `${BOARD}/${m[1]}`);
    });

    after(async () => {
      await current?.close();
      await queues.cleanup();
    });

    test('anonymous requests are 401 problem+json with a Bearer challenge: page, static asset, API, unknown path', async () => {
      const { app } = ctx();
      assert.ok(assets.some((a) => a.endsWith('.js')), assets.join(', '));
      const urls = [BOARD, `${BOARD}/`, `${BOARD}/queue/${QUEUE}`, assets[0]!, `${BOARD}/static/images/logo.svg`, API, `${BOARD}/nowhere`];
      for (const url of urls) {
        const res = await app.inject({ method: 'GET', url });
        const body = assertBearerRejected(res, 'unauthorized');
        assert.match(String(body.detail), /\/admin\/session/, url);
      }
      // bull-board's mutating API too (a PUT from its UI).
      assertBearerRejected(await app.inject({ method: 'PUT', url: `${API}/${QUEUE}/pause` }), 'unauthorized');
      // A garbage credential is 401 as well, never a 403 or the page.
      assertBearerRejected(await app.inject({ url: BOARD, headers: bearer('garbage') }), 'invalid_token');
      assertBearerRejected(await app.inject({ url: BOARD, headers: { authorization: 'Basic abc' } }), 'unauthorized');
    });

    test('a signed-in non-admin is 403 forbidden on the page, a static asset and the API, by JWT or API key', async () => {
      const { app } = ctx();
      const key = await app.inject({
        method: 'POST',
        url: '/api/v1/auth/api-keys',
        headers: bearer(user.accessToken),
        payload: { name: 'not an admin' },
      });
      assert.equal(key.statusCode, 201, key.body);
      for (const token of [user.accessToken, key.json<{ key: string }>().key]) {
        for (const url of [BOARD, assets[0]!, API, `${BOARD}/nowhere`]) {
          const res = await app.inject({ url, headers: bearer(token) });
          assertProblem(res, 403, 'forbidden');
        }
        assertProblem(await app.inject({ method: 'PUT', url: `${API}/${QUEUE}/pause`, headers: bearer(token) }), 403, 'forbidden');
      }
      assert.equal(await queue.isPaused(), false);
    });

    test('an admin with a bearer token gets the page, its assets, and the queue with its job counts', async () => {
      const { app } = ctx();
      const page = await app.inject({ url: BOARD, headers: bearer(admin.accessToken) });
      assert.equal(page.statusCode, 200, page.body);
      assert.match(String(page.headers['content-type']), /^text\/html/);
      assert.match(page.body, /<base href="\/admin\/queues\/"/);
      for (const asset of assets) {
        const res = await app.inject({ url: asset, headers: bearer(admin.accessToken) });
        assert.equal(res.statusCode, 200, asset);
        assert.match(String(res.headers['content-type']), asset.endsWith('.css') ? /^text\/css/ : /javascript|image|icon/, asset);
      }

      const job = await queue.add('transcribe', { recording_id: 'r-1' });
      const res = await app.inject({ url: API, headers: bearer(admin.accessToken) });
      assert.equal(res.statusCode, 200, res.body);
      const listed = res.json<{ queues: { name: string; counts: Record<string, number> }[] }>().queues;
      assert.deepEqual(listed.map((q) => q.name), [QUEUE]);
      assert.equal(listed[0]!.counts.waiting, 1, JSON.stringify(listed[0]!.counts));
      assert.equal(listed[0]!.counts.failed, 0);

      // And the jobs of a queue, as its page asks for them.
      const jobs = await app.inject({ url: `${API}?activeQueue=${QUEUE}&status=waiting&page=1`, headers: bearer(admin.accessToken) });
      assert.equal(jobs.statusCode, 200, jobs.body);
      const active = jobs.json<{ queues: { name: string; jobs: { id: string; name: string }[] }[] }>().queues[0]!;
      assert.deepEqual(active.jobs.map((j) => [j.id, j.name]), [[job.id, 'transcribe']]);
    });

    test('the page needs nothing the Content-Security-Policy forbids', async () => {
      const { app } = ctx();
      const page = await app.inject({ url: BOARD, headers: bearer(admin.accessToken) });
      const csp = String(page.headers['content-security-policy']);
      const directives = new Map(
        csp.split(';').map((d) => {
          const [name, ...values] = d.trim().split(/\s+/);
          return [name!, values] as const;
        }),
      );
      // Every executable script is a same-origin file: the one inline <script> is a JSON data block.
      const scripts = [...page.body.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
      assert.ok(scripts.length > 0);
      for (const [, attrs, content] of scripts) {
        if (/\bsrc="static\//.test(attrs!)) continue;
        assert.match(attrs!, /type="application\/json"/, `inline script would need a CSP exception: ${attrs}`);
        assert.doesNotThrow(() => JSON.parse(content!), 'the data block is JSON');
      }
      assert.doesNotMatch(page.body, /\son[a-z]+=/i, 'no inline event handlers');
      assert.deepEqual(directives.get('script-src'), ["'self'"]);
      // Inline style attributes, its <style> block and the Google Fonts stylesheet.
      assert.ok(directives.get('style-src')?.includes("'unsafe-inline'"), csp);
      assert.ok(directives.get('style-src')?.includes('https:'), csp);
      assert.ok(directives.get('font-src')?.includes('https:'), csp);
      // Every other resource link is same-origin (relative to <base href>) or https.
      for (const [, url] of page.body.matchAll(/(?:src|href)="([^"]+)"/g)) {
        assert.ok(url!.startsWith('static/') || url!.startsWith('https://') || url === '/admin/queues/', url);
      }
    });

    test('cookie session: POST sets it, the cookie alone opens the page and the API, DELETE clears it', async () => {
      const { app } = ctx();
      const opened = await app.inject({ method: 'POST', url: SESSION, headers: bearer(admin.accessToken) });
      assert.equal(opened.statusCode, 200, opened.body);
      assert.deepEqual(opened.json(), { expires_in: 1800, dashboard: '/admin/queues/' });
      assert.equal(opened.headers['cache-control'], 'no-store');
      const cookie = parseSetCookie(opened);
      assert.deepEqual(cookie.attributes.sort(), ['HttpOnly', 'Max-Age=1800', 'Path=/admin', 'SameSite=Strict']);
      // A purpose-bound token that expires no later than an access token.
      const claims = claimsOf(cookie.value);
      assert.equal(claims.typ, 'admin_session');
      assert.equal(claims.sub, admin.userId);
      assert.ok(claims.exp! - claims.iat! <= 1800);

      for (const url of [BOARD, assets[0]!, API]) {
        const res = await app.inject({ url, headers: { cookie: `other=1; ${cookie.pair}; theme=dark` } });
        assert.equal(res.statusCode, 200, `${url}: ${res.body.slice(0, 200)}`);
      }
      // The cookie is not a session for the API proper, nor usable as a bearer token.
      assertBearerRejected(await app.inject({ url: '/api/v1/auth/me', headers: { cookie: cookie.pair } }), 'unauthorized');
      assertBearerRejected(await app.inject({ url: '/api/v1/auth/me', headers: bearer(cookie.value) }), 'invalid_token');
      // Nor can it open a new session by itself (sessions must not renew themselves).
      assertBearerRejected(await app.inject({ method: 'POST', url: SESSION, headers: { cookie: cookie.pair } }), 'unauthorized');

      const closed = await app.inject({ method: 'DELETE', url: SESSION, headers: { cookie: cookie.pair } });
      assert.equal(closed.statusCode, 204, closed.body);
      const cleared = parseSetCookie(closed);
      assert.equal(cleared.value, '');
      assert.ok(cleared.attributes.includes('Max-Age=0'), cleared.attributes.join('; '));
      assert.ok(cleared.attributes.includes('Path=/admin'), cleared.attributes.join('; '));
      // What the browser sends after that: no cookie (or an empty one), so no dashboard.
      assertBearerRejected(await app.inject({ url: BOARD, headers: { cookie: `${COOKIE}=` } }), 'unauthorized');
    });

    test('only admins get a session, and only with a bearer credential', async () => {
      const { app } = ctx();
      const anonymous = await app.inject({ method: 'POST', url: SESSION });
      assertBearerRejected(anonymous, 'unauthorized');
      assert.equal(anonymous.headers['set-cookie'], undefined);
      const denied = await app.inject({ method: 'POST', url: SESSION, headers: bearer(user.accessToken) });
      assertProblem(denied, 403, 'forbidden');
      assert.equal(denied.headers['set-cookie'], undefined);
      // Even a validly signed session cookie is refused to an account that is not an admin.
      const forged = await signHmac({ sub: user.userId, claims: { typ: 'admin_session' } });
      assertProblem(await app.inject({ url: BOARD, headers: { cookie: `${COOKIE}=${forged}` } }), 403, 'forbidden');
    });

    test('a tampered, expired or wrong-purpose cookie is 401', async () => {
      const { app } = ctx();
      const opened = await app.inject({ method: 'POST', url: SESSION, headers: bearer(admin.accessToken) });
      const { value } = parseSetCookie(opened);
      const tampered = `${value.slice(0, -2)}${value.endsWith('AA') ? 'BB' : 'AA'}`;
      const expired = await signHmac({ sub: admin.userId, exp: Math.floor(Date.now() / 1000) - 10, claims: { typ: 'admin_session' } });
      const cases: [string, string][] = [
        [tampered, 'invalid_token'],
        [expired, 'token_expired'],
        // An access token is not a dashboard session.
        [admin.accessToken, 'invalid_token'],
        ['garbage', 'invalid_token'],
      ];
      for (const [cookie, code] of cases) {
        assertBearerRejected(await app.inject({ url: BOARD, headers: { cookie: `${COOKIE}=${cookie}` } }), code);
      }
    });

    test('the cookie is Secure when the request came over https', async () => {
      const { app } = ctx();
      const res = await app.inject({
        method: 'POST',
        url: SESSION,
        headers: { ...bearer(admin.accessToken), 'x-forwarded-proto': 'https' },
      });
      assert.equal(res.statusCode, 200, res.body);
      assert.ok(parseSetCookie(res).attributes.includes('Secure'));
      const cleared = await app.inject({ method: 'DELETE', url: SESSION, headers: { 'x-forwarded-proto': 'https' } });
      assert.ok(parseSetCookie(cleared).attributes.includes('Secure'));
    });

    test('demoting an admin takes effect at once, for bearer tokens and open sessions alike', async () => {
      const { app, database } = ctx();
      const opened = await app.inject({ method: 'POST', url: SESSION, headers: bearer(admin.accessToken) });
      const { pair } = parseSetCookie(opened);
      assert.equal((await app.inject({ url: BOARD, headers: { cookie: pair } })).statusCode, 200);

      const setRole = (role: string) =>
        asSystem(database.db, 'test changes a role', (tx) => tx.update(users).set({ role }).where(eq(users.id, admin.userId)));
      await setRole('user');
      try {
        assertProblem(await app.inject({ url: BOARD, headers: { cookie: pair } }), 403, 'forbidden');
        assertProblem(await app.inject({ url: API, headers: bearer(admin.accessToken) }), 403, 'forbidden');
        assertProblem(await app.inject({ method: 'POST', url: SESSION, headers: bearer(admin.accessToken) }), 403, 'forbidden');
      } finally {
        await setRole('admin');
      }
      assert.equal((await app.inject({ url: BOARD, headers: { cookie: pair } })).statusCode, 200);
    });

    test('OpenAPI documents the session routes and hides the dashboard', async () => {
      const { app } = ctx();
      const doc = (await app.inject({ url: '/openapi.json' })).json<{
        paths: Record<string, Record<string, { summary?: string; security?: unknown[] }>>;
      }>();
      assert.deepEqual(
        Object.keys(doc.paths).filter((p) => p.startsWith('/admin')),
        ['/admin/session'],
      );
      const session = doc.paths['/admin/session']!;
      assert.deepEqual(Object.keys(session).sort(), ['delete', 'post']);
      assert.ok(session.post!.summary);
      assert.ok(session.delete!.summary);
      assert.deepEqual(session.post!.security, [{ bearerAuth: [] }]);
    });
  });
}

describe('admin: queue dashboard options (basePath, readOnly) [pglite]', { skip: redisSkipReason() }, () => {
  const queues = testQueues();
  let current: TestApp | undefined;
  let queue: Queue;
  after(async () => {
    await current?.close();
    await queues.cleanup();
  });

  test('a custom basePath moves the board and its session; readOnly refuses changes to the queue', async () => {
    assertRedisAvailable();
    current = await startTestApp('postgres', {}, {
      beforeReady: async (app, database) => {
        queue = queues.create('read-only');
        await registerQueueDashboard(app, {
          queues: [queue],
          auth: app.runtime.services.auth,
          db: database.db,
          basePath: 'ops//jobs/',
          readOnly: true,
        });
      },
    });
    const { app } = current;
    const admin = await registerUser(app, 'admin');
    const user = await registerUser(app, 'user');

    assertBearerRejected(await app.inject({ url: '/ops/jobs' }), 'unauthorized');
    assertProblem(await app.inject({ url: '/ops/jobs/api/queues', headers: bearer(user.accessToken) }), 403, 'forbidden');
    assert.equal((await app.inject({ url: BOARD, headers: bearer(admin.accessToken) })).statusCode, 404);

    const opened = await app.inject({ method: 'POST', url: '/ops/session', headers: bearer(admin.accessToken) });
    assert.equal(opened.statusCode, 200, opened.body);
    assert.equal(opened.json().dashboard, '/ops/jobs/');
    const cookie = parseSetCookie(opened);
    assert.ok(cookie.attributes.includes('Path=/ops'), cookie.attributes.join('; '));
    const page = await app.inject({ url: '/ops/jobs/', headers: { cookie: cookie.pair } });
    assert.equal(page.statusCode, 200, page.body);
    assert.match(page.body, /<base href="\/ops\/jobs\/"/);

    const listed = await app.inject({ url: '/ops/jobs/api/queues', headers: { cookie: cookie.pair } });
    assert.equal(listed.json().queues[0].readOnlyMode, true);
    const pause = await app.inject({ method: 'PUT', url: '/ops/jobs/api/queues/read-only/pause', headers: { cookie: cookie.pair } });
    assert.equal(pause.statusCode, 405, pause.body);
    assert.equal(await queue.isPaused(), false);
  });
});
