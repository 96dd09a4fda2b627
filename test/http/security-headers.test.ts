import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ALLOWED_ORIGIN, describeHttpSurface } from './http-surface-fixture.js';

const SOME_UUID = '00000000-0000-7000-8000-000000000000';

describeHttpSurface((t) => {
  test('helmet security headers are present', async () => {
    // '/api/v1/audio/' without a token: a 401 thrown by an onRequest hook keeps them too.
    for (const url of ['/', '/api/v1/health/', '/nope', '/api/v1/audio/']) {
      const res = await t().app.inject({ method: 'GET', url });
      assert.equal(res.headers['x-content-type-options'], 'nosniff', url);
      assert.equal(res.headers['x-frame-options'], 'SAMEORIGIN', url);
      assert.equal(res.headers['referrer-policy'], 'no-referrer', url);
      assert.match(String(res.headers['strict-transport-security']), /max-age=\d+/, url);
      assert.match(String(res.headers['content-security-policy']), /default-src 'self'/, url);
      assert.equal(res.headers['x-powered-by'], undefined, url);
    }
  });

  describe('CORS', () => {
    function preflight(origin: string, method: string, url = '/api/v1/audio/') {
      return t().app.inject({
        method: 'OPTIONS',
        url,
        headers: {
          origin,
          'access-control-request-method': method,
          'access-control-request-headers': 'authorization,content-type',
        },
      });
    }

    test('a preflight from an allowed origin is allowed', async () => {
      const res = await preflight(ALLOWED_ORIGIN, 'POST');
      assert.equal(res.statusCode, 204);
      assert.equal(res.headers['access-control-allow-origin'], ALLOWED_ORIGIN);
      assert.match(String(res.headers['access-control-allow-headers']).toLowerCase(), /authorization/);
      assert.match(String(res.headers.vary), /Origin/);
    });

    test('a preflight from another origin gets no allow-origin', async () => {
      const res = await preflight('https://evil.example', 'POST');
      assert.equal(res.headers['access-control-allow-origin'], undefined);
    });

    test('simple requests: the allowed origin is answered, x-request-id exposed; others are not', async () => {
      const allowed = await t().app.inject({ method: 'GET', url: '/api/v1/health/', headers: { origin: ALLOWED_ORIGIN } });
      assert.equal(allowed.headers['access-control-allow-origin'], ALLOWED_ORIGIN);
      assert.match(String(allowed.headers['access-control-expose-headers']), /x-request-id/);

      const other = await t().app.inject({
        method: 'GET',
        url: '/api/v1/health/',
        headers: { origin: 'https://evil.example' },
      });
      assert.equal(other.headers['access-control-allow-origin'], undefined);
    });

    // The API has DELETE routes; a browser app on an allowed origin must be able to call them.
    test('a preflight for DELETE from an allowed origin allows DELETE', async () => {
      const res = await preflight(ALLOWED_ORIGIN, 'DELETE', `/api/v1/audio/${SOME_UUID}`);
      assert.equal(res.statusCode, 204);
      assert.equal(res.headers['access-control-allow-origin'], ALLOWED_ORIGIN);
      const methods = String(res.headers['access-control-allow-methods'] ?? '')
        .split(',')
        .map((m) => m.trim().toUpperCase());
      assert.ok(methods.includes('DELETE'), `access-control-allow-methods: ${methods.join(',')}`);
    });
  });
});
