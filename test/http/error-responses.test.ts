import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { describeHttpSurface } from './http-surface-fixture.js';

/** Whether `key` appears anywhere in a parsed JSON value. */
function hasKeyDeep(value: unknown, key: string): boolean {
  if (Array.isArray(value)) return value.some((v) => hasKeyDeep(v, key));
  if (value && typeof value === 'object') {
    return Object.entries(value).some(([k, v]) => k === key || hasKeyDeep(v, key));
  }
  return false;
}

describeHttpSurface((t) => {
  describe('errors', () => {
    test('unknown route: 404 problem+json with the request id and no stack', async () => {
      const res = await t().app.inject({ method: 'GET', url: '/api/v1/nothing-here?x=1' });
      assert.equal(res.statusCode, 404);
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
      const body = res.json();
      assert.equal(body.code, 'route_not_found');
      assert.equal(body.status, 404);
      assert.equal(body.title, 'Not Found');
      assert.equal(body.type, 'https://transcribo.dev/errors/route_not_found');
      assert.match(body.detail, /GET \/api\/v1\/nothing-here$/);
      const requestId = res.headers['x-request-id'];
      assert.equal(typeof requestId, 'string');
      assert.ok((requestId as string).length > 0);
      assert.equal(body.request_id, requestId);
      assert.equal(hasKeyDeep(body, 'stack'), false, res.body);
      assert.doesNotMatch(res.body, /stack|node_modules|at \w+ \(/);
    });

    test('an unknown method on a known path is also a problem', async () => {
      const res = await t().app.inject({ method: 'PUT', url: '/api/v1/health/' });
      assert.ok([404, 405].includes(res.statusCode), String(res.statusCode));
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.equal(res.json().request_id, res.headers['x-request-id']);
    });

    test('a sane caller-supplied x-request-id is echoed back', async () => {
      const id = 'trace-abc.123:XYZ_9';
      const res = await t().app.inject({ method: 'GET', url: '/nope', headers: { 'x-request-id': id } });
      assert.equal(res.headers['x-request-id'], id);
      assert.equal(res.json().request_id, id);

      const ok = await t().app.inject({ method: 'GET', url: '/api/v1/health/liveness', headers: { 'x-request-id': id } });
      assert.equal(ok.statusCode, 200);
      assert.equal(ok.headers['x-request-id'], id);
    });

    for (const [label, insane] of [
      ['300 characters', 'a'.repeat(300)],
      ['spaces', 'has spaces in it'],
      ['markup', '<script>alert(1)</script>'],
      ['empty', ''],
    ] as const) {
      test(`an x-request-id with ${label} is replaced`, async () => {
        const res = await t().app.inject({ method: 'GET', url: '/nope', headers: { 'x-request-id': insane } });
        const echoed = res.headers['x-request-id'] as string;
        assert.notEqual(echoed, insane);
        assert.match(echoed, /^[0-9a-f-]{36}$/);
        assert.equal(res.json().request_id, echoed);
      });
    }

    test('request ids differ per request', async () => {
      const a = await t().app.inject({ method: 'GET', url: '/api/v1/health/liveness' });
      const b = await t().app.inject({ method: 'GET', url: '/api/v1/health/liveness' });
      assert.notEqual(a.headers['x-request-id'], b.headers['x-request-id']);
    });
  });
});
