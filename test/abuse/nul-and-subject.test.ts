import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { SignJWT } from 'jose';
import { describeEachDatabase } from '../helpers/app.js';
import { shortClip } from '../helpers/audio.js';
import { TEST_SECRET } from '../helpers/config.js';
import { bearer, createSession, createTextEntry, registerUser } from '../helpers/factory.js';

/*
 * A NUL in any string used to reach PostgreSQL, which cannot store it, and come back as a 500.
 * Every field named in the report, through every way requests carry text: JSON, urlencoded and
 * multipart bodies, the query string.
 */

const NUL = 'a\u0000b';

function assertRefused(res: { statusCode: number; body: string; headers: Record<string, unknown> }, field: string) {
  assert.equal(res.statusCode, 422, res.body);
  assert.match(String(res.headers['content-type']), /application\/problem\+json/);
  const body = JSON.parse(res.body) as { code: string; errors?: { field: string }[] };
  assert.equal(body.code, 'validation_failed');
  assert.equal(body.errors?.[0]?.field, field, res.body);
}

describeEachDatabase('a NUL character in a field is a 422 naming it, never a 500', (ctx) => {
  test('JSON bodies: API key name, title, original_text, source, session title, chat message, transcribe prompt', async () => {
    const { app } = ctx();
    const user = await registerUser(app, 'nul');
    const headers = bearer(user.accessToken);
    const entry = await createTextEntry(app, user);
    const session = await createSession(app, user);
    const cases: [string, string, object, string][] = [
      ['POST', '/api/v1/auth/api-keys', { name: NUL }, 'body.name'],
      ['POST', '/api/v1/audio/upload', { title: NUL, original_text: 'Hola.' }, 'body.title'],
      ['POST', '/api/v1/audio/upload', { title: 't', original_text: `Hola. ${NUL}` }, 'body.original_text'],
      ['POST', '/api/v1/audio/upload', { title: 't', original_text: 'Hola.', source: NUL }, 'body.source'],
      ['POST', '/api/v1/chat/sessions', { title: NUL }, 'body.title'],
      ['POST', `/api/v1/chat/sessions/${session.id}/messages`, { role: 'user', content: NUL }, 'body.content'],
      ['POST', `/api/v1/audio/${entry.id}/transcribe`, { prompt: NUL }, 'body.prompt'],
    ];
    for (const [method, url, payload, field] of cases) {
      const res = await app.inject({ method: method as 'POST', url, headers, payload });
      assertRefused(res, field);
    }
  });

  test('query string (search q), urlencoded login username, multipart fields of both upload routes', async () => {
    const { app } = ctx();
    const user = await registerUser(app, 'nul-form');
    const headers = bearer(user.accessToken);
    assertRefused(await app.inject({ url: `/api/v1/search/?q=${encodeURIComponent(NUL)}`, headers }), 'querystring.q');
    assertRefused(
      await app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: `username=${encodeURIComponent(NUL)}&password=whatever`,
      }),
      'body.username',
    );
    const wav = readFileSync(shortClip().wavPath);
    for (const [url, field] of [['/v1/audio/transcriptions', 'prompt'], ['/api/v1/audio/upload', 'title']] as const) {
      const form = new FormData();
      form.append('model', 'sphinx');
      form.append(field, NUL);
      form.append('file', new Blob([wav]), 'clip.wav');
      const request = new Request('http://local/', { method: 'POST', body: form });
      const res = await app.inject({
        method: 'POST',
        url,
        headers: { ...headers, 'content-type': request.headers.get('content-type')! },
        payload: Buffer.from(await request.arrayBuffer()),
      });
      assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${url}: ${res.statusCode} ${res.body}`);
      assert.match(res.body, new RegExp(`body\\.${field}`), res.body);
    }
  });

  test('a validly signed access token whose subject is not a UUID is a 401, not a 500', async () => {
    const { app } = ctx();
    const token = await new SignJWT({ typ: 'access' })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject('not-a-uuid')
      .setIssuer('transcribo')
      .setAudience('transcribo')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(TEST_SECRET));
    const res = await app.inject({ url: '/api/v1/audio/', headers: bearer(token) });
    assert.equal(res.statusCode, 401, res.body);
    assert.equal(res.json<{ code: string }>().code, 'invalid_token');
  });
});

describeEachDatabase('POST /api/v1/audio/upload without an upload body', (ctx) => {
  test('text/plain is a 415 and no body at all a 400, as problem+json', async () => {
    const { app } = ctx();
    const user = await registerUser(app, 'nobody');
    const plain = await app.inject({
      method: 'POST',
      url: '/api/v1/audio/upload',
      headers: { ...bearer(user.accessToken), 'content-type': 'text/plain' },
      payload: 'hello',
    });
    assert.equal(plain.statusCode, 415, plain.body);
    assert.equal(plain.json<{ code: string }>().code, 'unsupported_media_type');
    const empty = await app.inject({ method: 'POST', url: '/api/v1/audio/upload', headers: bearer(user.accessToken) });
    assert.equal(empty.statusCode, 400, empty.body);
    assert.equal(empty.json<{ code: string }>().code, 'bad_request');
    assert.match(String(empty.headers['content-type']), /application\/problem\+json/);
  });
});

describeEachDatabase('errors the router raises', (ctx) => {
  test('a path segment over the router limit is 414 problem+json with a request id', async () => {
    const { app } = ctx();
    const res = await app.inject({ url: `/api/v1/audio/${'a'.repeat(600)}` });
    assert.equal(res.statusCode, 414, res.body);
    assert.match(String(res.headers['content-type']), /application\/problem\+json/);
    const body = res.json<{ code: string; request_id: string }>();
    assert.equal(body.code, 'uri_too_long');
    assert.equal(body.request_id, res.headers['x-request-id'] ?? body.request_id);
    assert.ok(body.request_id.length > 0);
  });
});
