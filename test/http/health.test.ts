import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { DB_KINDS } from '../helpers/databases.js';
import { describeHttpSurface, PKG_VERSION } from './http-surface-fixture.js';

describeHttpSurface((t) => {
  describe('health', () => {
    for (const url of ['/api/v1/health/', '/api/v1/health']) {
      test(`GET ${url} is healthy with version and uptime`, async () => {
        const res = await t().app.inject({ method: 'GET', url });
        assert.equal(res.statusCode, 200);
        const body = res.json();
        assert.deepEqual(Object.keys(body).sort(), ['status', 'uptime', 'version']);
        assert.equal(body.status, 'healthy');
        assert.equal(body.version, PKG_VERSION);
        assert.equal(typeof body.uptime, 'number');
        assert.ok(body.uptime >= 0);
      });
    }

    test('liveness answers alive', async () => {
      const res = await t().app.inject({ method: 'GET', url: '/api/v1/health/liveness' });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json(), { status: 'alive' });
    });

    test('health routes need no credential', async () => {
      for (const url of ['/api/v1/health/', '/api/v1/health/liveness', '/api/v1/health/readiness']) {
        const res = await t().app.inject({ method: 'GET', url, headers: { authorization: 'Bearer nonsense' } });
        assert.equal(res.statusCode, 200, url);
      }
    });
  });
});

for (const kind of DB_KINDS) {
  describe(`readiness [${kind}]`, () => {
    // A dedicated app: this suite closes its database underneath it.
    let t: TestApp | undefined;

    before(async () => {
      t = await startTestApp(kind);
    });
    after(async () => {
      if (!t) return;
      await t.close();
    });

    test('ready while the database answers', async () => {
      const res = await t!.app.inject({ method: 'GET', url: '/api/v1/health/readiness' });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.equal(body.status, 'ready');
      assert.equal(body.checks.database.status, 'ok');
      assert.equal(body.checks.database.error, undefined);
      assert.equal(typeof body.checks.database.latency_ms, 'number');
    });

    test('503 naming the failed check once the database is closed', async () => {
      await t!.database.close();

      const res = await t!.app.inject({ method: 'GET', url: '/api/v1/health/readiness' });
      assert.equal(res.statusCode, 503, res.body);
      const body = res.json();
      assert.equal(body.status, 'not_ready');
      assert.equal(body.checks.database.status, 'fail');
      assert.equal(typeof body.checks.database.error, 'string');
      assert.ok(body.checks.database.error.length > 0);

      // Liveness does not depend on the database.
      const live = await t!.app.inject({ method: 'GET', url: '/api/v1/health/liveness' });
      assert.equal(live.statusCode, 200);
    });
  });
}
