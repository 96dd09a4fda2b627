import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from './helpers/app.js';
import { DB_KINDS } from './helpers/databases.js';
import { MAX_SEGMENTS } from '../src/transcription/sentences.js';

const PKG_VERSION = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

const ALLOWED_ORIGIN = 'https://app.example';
const SOME_UUID = '00000000-0000-7000-8000-000000000000';

/** Every route the API must document: [method, path, success status, takes a body, authenticated]. */
const ROUTES: [string, string, number, boolean, boolean][] = [
  ['get', '/api/v1/health/', 200, false, false],
  ['get', '/api/v1/health/liveness', 200, false, false],
  ['get', '/api/v1/health/readiness', 200, false, false],
  ['post', '/api/v1/auth/register', 201, true, false],
  ['post', '/api/v1/auth/login', 200, true, false],
  ['post', '/api/v1/auth/refresh', 200, true, false],
  ['post', '/api/v1/auth/logout', 204, true, false],
  ['get', '/api/v1/auth/me', 200, false, true],
  ['post', '/api/v1/auth/api-keys', 201, true, true],
  ['get', '/api/v1/auth/api-keys', 200, false, true],
  ['delete', '/api/v1/auth/api-keys/{id}', 204, false, true],
  ['post', '/api/v1/audio/upload', 201, true, true],
  ['get', '/api/v1/audio/', 200, false, true],
  ['get', '/api/v1/audio/{id}', 200, false, true],
  ['delete', '/api/v1/audio/{id}', 204, false, true],
  ['get', '/api/v1/audio/{id}/transcription', 200, false, true],
  ['get', '/api/v1/audio/transcription/{transcription_id}', 200, false, true],
  ['patch', '/api/v1/audio/transcription/{transcription_id}/segments/{segment_id}', 200, true, true],
  ['patch', '/api/v1/audio/transcription/{transcription_id}/segments', 200, true, true],
  ['post', '/api/v1/audio/transcription/{transcription_id}/segments/{segment_id}/split', 200, true, true],
  ['post', '/api/v1/audio/transcription/{transcription_id}/segments/merge', 200, true, true],
  ['put', '/api/v1/audio/transcription/{transcription_id}/speakers', 200, true, true],
  ['get', '/api/v1/audio/transcription/{transcription_id}/versions', 200, false, true],
  ['get', '/api/v1/audio/transcription/{transcription_id}/versions/{version}', 200, false, true],
  ['post', '/api/v1/audio/transcription/{transcription_id}/versions/{version}/revert', 200, false, true],
  ['post', '/api/v1/chat/sessions', 201, true, true],
  ['get', '/api/v1/chat/sessions', 200, false, true],
  ['get', '/api/v1/chat/sessions/{id}', 200, false, true],
  ['delete', '/api/v1/chat/sessions/{id}', 204, false, true],
  ['post', '/api/v1/chat/sessions/{id}/messages', 201, true, true],
  ['post', '/api/v1/audio/{id}/transcribe', 202, true, true],
  ['get', '/api/v1/audio/{id}/file', 200, false, true],
  ['get', '/api/v1/audio/{id}/speech-timestamps', 200, false, true],
  ['get', '/api/v1/jobs/{id}', 200, false, true],
  ['post', '/api/v1/jobs/{id}/cancel', 200, false, true],
  ['post', '/v1/audio/transcriptions', 200, true, true],
  ['get', '/v1/models', 200, false, true],
  ['post', '/v1/realtime/client_secrets', 200, true, true],
  ['get', '/api/v1/search/', 200, false, true],
  ['post', '/api/v1/chat/completion', 200, true, true],
  ['post', '/api/v1/chat/completion/async', 202, true, true],
  ['post', '/api/v1/audio/{id}/summary', 200, true, true],
  ['get', '/api/v1/audio/{id}/summary', 200, false, true],
  ['get', '/api/v1/jobs/{id}/events', 200, false, true],
  ['post', '/api/v1/webhooks/', 201, true, true],
  ['get', '/api/v1/webhooks/', 200, false, true],
  ['delete', '/api/v1/webhooks/{id}', 204, false, true],
  ['get', '/api/v1/webhooks/{id}/deliveries', 200, false, true],
  ['get', '/api/v1/privacy/terms', 200, false, true],
  ['put', '/api/v1/privacy/terms', 200, true, true],
  ['get', '/api/v1/admin/users', 200, false, true],
  ['patch', '/api/v1/admin/users/{id}', 200, true, true],
  ['get', '/api/v1/admin/status', 200, false, true],
];

interface OpenApiOperation {
  requestBody?: { content?: Record<string, { schema?: unknown }> };
  responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>;
  security?: Record<string, string[]>[];
  parameters?: { in: string; name: string }[];
}
interface OpenApiDoc {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, OpenApiOperation>>;
  components?: { securitySchemes?: Record<string, { type: string; scheme?: string }> };
}

/** Looks a path up in the document; a collection route may be written with or without its trailing slash. */
function operation(doc: OpenApiDoc, method: string, path: string): OpenApiOperation | undefined {
  const candidates = path.endsWith('/') ? [path, path.slice(0, -1)] : [path];
  for (const candidate of candidates) {
    const op = doc.paths[candidate]?.[method];
    if (op) return op;
  }
  return undefined;
}

/** Whether `key` appears anywhere in a parsed JSON value. */
function hasKeyDeep(value: unknown, key: string): boolean {
  if (Array.isArray(value)) return value.some((v) => hasKeyDeep(v, key));
  if (value && typeof value === 'object') {
    return Object.entries(value).some(([k, v]) => k === key || hasKeyDeep(v, key));
  }
  return false;
}

describe('http surface', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp('postgres', { CORS_ORIGINS: ALLOWED_ORIGIN });
  });
  after(async () => {
    await t?.close();
  });

  test('GET / describes the service and links the docs', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/' });
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type'] as string, /^application\/json/);
    const body = res.json();
    assert.equal(body.name, 'Transcribo');
    assert.equal(body.version, PKG_VERSION);
    assert.ok(body.description.length > 0);
    assert.equal(body.docs, '/docs');
    assert.equal(body.openapi, '/openapi.json');
    assert.equal(body.health, '/api/v1/health/');
  });

  test('GET /docs is the HTML documentation', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/docs' });
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type'] as string, /^text\/html/);
    assert.match(res.body, /<html/i);
  });

  describe('/openapi.json', () => {
    let doc: OpenApiDoc;
    before(async () => {
      const res = await t.app.inject({ method: 'GET', url: '/openapi.json' });
      assert.equal(res.statusCode, 200);
      assert.match(res.headers['content-type'] as string, /^application\/json/);
      doc = res.json<OpenApiDoc>();
    });

    test('is OpenAPI 3.x with a bearer security scheme', () => {
      assert.match(doc.openapi, /^3\.\d+\.\d+$/);
      assert.equal(doc.info.title, 'Transcribo');
      assert.equal(doc.info.version, PKG_VERSION);
      assert.deepEqual(doc.components?.securitySchemes?.bearerAuth, {
        type: 'http',
        scheme: 'bearer',
        description: 'An access token (JWT) or an API key (trb_…)',
      });
    });

    for (const [method, path, status, takesBody, authenticated] of ROUTES) {
      test(`documents ${method.toUpperCase()} ${path}`, () => {
        const op = operation(doc, method, path);
        assert.ok(op, `${method.toUpperCase()} ${path} missing; documented paths: ${Object.keys(doc.paths).join(', ')}`);

        const success = op.responses?.[String(status)];
        assert.ok(success, `no ${status} response documented`);
        if (status === 204) {
          assert.equal(success.content, undefined, '204 has no body');
        } else {
          // JSON for most routes; binary audio or a multipart form where that is what travels.
          assert.ok(
            Object.values(success.content ?? {}).some((c) => c.schema),
            `no schema for the ${status} response`,
          );
        }

        if (takesBody) {
          assert.ok(
            Object.values(op.requestBody?.content ?? {}).some((c) => c.schema),
            'no request body schema',
          );
        } else {
          assert.equal(op.requestBody, undefined, 'documents a body it does not take');
        }

        if (authenticated) {
          assert.deepEqual(op.security, [{ bearerAuth: [] }]);
          assert.ok(op.responses?.['401'], 'an authenticated route documents its 401');
        } else {
          assert.equal(op.security, undefined, 'a public route must not demand a credential');
        }

        for (const name of [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1])) {
          assert.ok(
            op.parameters?.some((p) => p.in === 'path' && p.name === name),
            `path parameter ${name} undocumented`,
          );
        }
      });
    }

    test('documents nothing beyond the API and GET / (no internal routes)', () => {
      const key = (method: string, path: string) => `${method} ${path.length > 1 ? path.replace(/\/$/, '') : path}`;
      const expected = new Set([key('get', '/'), ...ROUTES.map(([m, p]) => key(m, p))]);
      for (const [path, ops] of Object.entries(doc.paths)) {
        for (const method of Object.keys(ops)) {
          assert.ok(expected.has(key(method, path)), `unexpected entry ${method.toUpperCase()} ${path}`);
        }
      }
    });
  });

  describe('errors', () => {
    test('unknown route: 404 problem+json with the request id and no stack', async () => {
      const res = await t.app.inject({ method: 'GET', url: '/api/v1/nothing-here?x=1' });
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
      const res = await t.app.inject({ method: 'PUT', url: '/api/v1/health/' });
      assert.ok([404, 405].includes(res.statusCode), String(res.statusCode));
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.equal(res.json().request_id, res.headers['x-request-id']);
    });

    test('a sane caller-supplied x-request-id is echoed back', async () => {
      const id = 'trace-abc.123:XYZ_9';
      const res = await t.app.inject({ method: 'GET', url: '/nope', headers: { 'x-request-id': id } });
      assert.equal(res.headers['x-request-id'], id);
      assert.equal(res.json().request_id, id);

      const ok = await t.app.inject({ method: 'GET', url: '/api/v1/health/liveness', headers: { 'x-request-id': id } });
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
        const res = await t.app.inject({ method: 'GET', url: '/nope', headers: { 'x-request-id': insane } });
        const echoed = res.headers['x-request-id'] as string;
        assert.notEqual(echoed, insane);
        assert.match(echoed, /^[0-9a-f-]{36}$/);
        assert.equal(res.json().request_id, echoed);
      });
    }

    test('request ids differ per request', async () => {
      const a = await t.app.inject({ method: 'GET', url: '/api/v1/health/liveness' });
      const b = await t.app.inject({ method: 'GET', url: '/api/v1/health/liveness' });
      assert.notEqual(a.headers['x-request-id'], b.headers['x-request-id']);
    });
  });

  test('helmet security headers are present', async () => {
    // '/api/v1/audio/' without a token: a 401 thrown by an onRequest hook keeps them too.
    for (const url of ['/', '/api/v1/health/', '/nope', '/api/v1/audio/']) {
      const res = await t.app.inject({ method: 'GET', url });
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
      return t.app.inject({
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
      const allowed = await t.app.inject({ method: 'GET', url: '/api/v1/health/', headers: { origin: ALLOWED_ORIGIN } });
      assert.equal(allowed.headers['access-control-allow-origin'], ALLOWED_ORIGIN);
      assert.match(String(allowed.headers['access-control-expose-headers']), /x-request-id/);

      const other = await t.app.inject({
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

  // Found while writing the shutdown tests: every sentence segment goes into one INSERT with five
  // bind parameters per row, so past 13,107 segments PostgreSQL's 65,535-parameter limit (and,
  // further on, drizzle's recursive query builder) turns a valid upload into a 500.
  test('a text upload far below MAX_FILE_SIZE is stored however many sentences it has', async () => {
    const register = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/register',
      payload: { email: `many-${Date.now()}@example.com`, password: 'correct horse battery' },
    });
    assert.equal(register.statusCode, 201, register.body);
    const text = 'Sí. '.repeat(14_000); // 56 kB, 14,000 one-word sentences
    assert.ok(Buffer.byteLength(text) < t.config.maxFileSize / 100);
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/audio/upload',
      headers: { authorization: `Bearer ${register.json().access_token}` },
      payload: { title: 'Many sentences', original_text: text, language: 'es' },
    });
    assert.equal(res.statusCode, 201, res.body.slice(0, 500));
    // More sentences than MAX_SEGMENTS: neighbours share a segment, and nothing is lost.
    const segments = res.json<{ transcription: { segments: { text: string }[] } }>().transcription.segments;
    assert.ok(segments.length <= MAX_SEGMENTS && segments.length >= MAX_SEGMENTS / 2, `${segments.length}`);
    assert.equal(segments.map((s) => s.text).join(' '), text.trim());
  });

  describe('health', () => {
    for (const url of ['/api/v1/health/', '/api/v1/health']) {
      test(`GET ${url} is healthy with version and uptime`, async () => {
        const res = await t.app.inject({ method: 'GET', url });
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
      const res = await t.app.inject({ method: 'GET', url: '/api/v1/health/liveness' });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json(), { status: 'alive' });
    });

    test('health routes need no credential', async () => {
      for (const url of ['/api/v1/health/', '/api/v1/health/liveness', '/api/v1/health/readiness']) {
        const res = await t.app.inject({ method: 'GET', url, headers: { authorization: 'Bearer nonsense' } });
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
