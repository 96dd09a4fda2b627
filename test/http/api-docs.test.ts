import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { describeHttpSurface, PKG_VERSION } from './http-surface-fixture.js';

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

describeHttpSurface((t) => {
  test('GET / describes the service and links the docs', async () => {
    const res = await t().app.inject({ method: 'GET', url: '/' });
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
    const res = await t().app.inject({ method: 'GET', url: '/docs' });
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type'] as string, /^text\/html/);
    assert.match(res.body, /<html/i);
  });

  describe('/openapi.json', () => {
    let doc: OpenApiDoc;
    before(async () => {
      const res = await t().app.inject({ method: 'GET', url: '/openapi.json' });
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
});
