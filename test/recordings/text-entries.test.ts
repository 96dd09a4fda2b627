import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeEachDatabase } from '../helpers/app.js';
import { bearer, createTextEntry, registerUser } from '../helpers/factory.js';

describeEachDatabase('text entries', (ctx) => {
  test('JSON upload creates a recording with a completed transcription split by sentence', async () => {
    const { app } = ctx();
    const user = await registerUser(app);
    const entry = await createTextEntry(app, user, {
      title: 'Reunión',
      original_text: 'Hola a todos. Empezamos la reunión a las 10.30 h. ¿Alguna pregunta? Sí, una.',
      language: 'es',
      source: 'upload',
    });
    assert.equal(entry.title, 'Reunión');
    const body = entry as unknown as Record<string, unknown>;
    assert.equal(body.kind, 'text');
    assert.equal(body.language, 'es');
    assert.equal(body.source, 'upload');
    assert.match(String(body.sha256), /^[0-9a-f]{64}$/);
    const t = entry.transcription as unknown as Record<string, unknown>;
    assert.equal(t.status, 'completed');
    assert.equal(t.engine, 'text');
    assert.equal(t.progress, 100);
    assert.deepEqual(
      entry.transcription.segments.map((s) => s.text),
      ['Hola a todos.', 'Empezamos la reunión a las 10.30 h.', '¿Alguna pregunta?', 'Sí, una.'],
    );
  });

  test('urlencoded upload (the seed’s form) works and defaults source to upload', async () => {
    const { app } = ctx();
    const user = await registerUser(app);
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/audio/upload',
      headers: { ...bearer(user.accessToken), 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ title: 'Nota', original_text: 'Primera frase. Segunda frase.' }).toString(),
    });
    assert.equal(res.statusCode, 201, res.body);
    const body = res.json();
    assert.equal(body.source, 'upload');
    assert.equal(body.language, null);
    assert.equal(body.transcription.segments.length, 2);
  });

  test('invalid bodies are 422 with the field named; wrong media type is 415', async () => {
    const { app } = ctx();
    const user = await registerUser(app);
    const missing = await app.inject({
      method: 'POST',
      url: '/api/v1/audio/upload',
      headers: bearer(user.accessToken),
      payload: { title: 'x' },
    });
    assert.equal(missing.statusCode, 422);
    assert.equal(missing.headers['content-type'], 'application/problem+json; charset=utf-8');
    const problem = missing.json();
    assert.equal(problem.code, 'validation_failed');
    assert.ok(problem.errors.some((e: { field: string }) => e.field.includes('original_text')), missing.body);
    assert.equal(problem.request_id, missing.headers['x-request-id']);

    const badLanguage = await app.inject({
      method: 'POST',
      url: '/api/v1/audio/upload',
      headers: bearer(user.accessToken),
      payload: { title: 'x', original_text: 'y', language: 'not a tag!' },
    });
    assert.equal(badLanguage.statusCode, 422);

    const xml = await app.inject({
      method: 'POST',
      url: '/api/v1/audio/upload',
      headers: { ...bearer(user.accessToken), 'content-type': 'application/xml' },
      payload: '<x/>',
    });
    assert.equal(xml.statusCode, 415);
    assert.equal(xml.json().code, 'unsupported_media_type');

    const broken = await app.inject({
      method: 'POST',
      url: '/api/v1/audio/upload',
      headers: { ...bearer(user.accessToken), 'content-type': 'application/json' },
      payload: '{"title": ',
    });
    assert.equal(broken.statusCode, 400);
    assert.equal(broken.json().code, 'invalid_body');
  });

  test('a body over MAX_FILE_SIZE is 413', async () => {
    const { app, config } = ctx();
    const user = await registerUser(app);
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/audio/upload',
      headers: bearer(user.accessToken),
      payload: { title: 'big', original_text: 'a'.repeat(config.maxFileSize + 1) },
    });
    assert.equal(res.statusCode, 413);
    assert.equal(res.json().code, 'payload_too_large');
  });

  test('list is newest first with cursor pagination, limit capped at 100', async () => {
    const { app } = ctx();
    const user = await registerUser(app);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await createTextEntry(app, user, { title: `n${i}` })).id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const url: string = `/api/v1/audio/?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const res = await app.inject({ method: 'GET', url, headers: bearer(user.accessToken) });
      assert.equal(res.statusCode, 200, res.body);
      const page = res.json<{ items: { id: string }[]; next_cursor: string | null }>();
      assert.ok(page.items.length <= 2);
      seen.push(...page.items.map((r) => r.id));
      cursor = page.next_cursor;
    } while (cursor);
    assert.deepEqual(seen, [...ids].reverse());

    const tooMany = await app.inject({ method: 'GET', url: '/api/v1/audio/?limit=101', headers: bearer(user.accessToken) });
    assert.equal(tooMany.statusCode, 422);
  });

  test('get, latest transcription, transcription by id, delete removes everything derived', async () => {
    const { app } = ctx();
    const user = await registerUser(app);
    const entry = await createTextEntry(app, user);
    const auth = bearer(user.accessToken);

    const one = await app.inject({ method: 'GET', url: `/api/v1/audio/${entry.id}`, headers: auth });
    assert.equal(one.statusCode, 200);
    assert.equal(one.json().id, entry.id);

    const latest = await app.inject({ method: 'GET', url: `/api/v1/audio/${entry.id}/transcription`, headers: auth });
    assert.equal(latest.statusCode, 200);
    assert.equal(latest.json().id, entry.transcription.id);

    const byId = await app.inject({
      method: 'GET',
      url: `/api/v1/audio/transcription/${entry.transcription.id}`,
      headers: auth,
    });
    assert.equal(byId.statusCode, 200);
    assert.equal(byId.json().segments.length, entry.transcription.segments.length);

    const session = await app.inject({
      method: 'POST',
      url: '/api/v1/chat/sessions',
      headers: auth,
      payload: { title: 'about it', transcription_id: entry.transcription.id },
    });
    assert.equal(session.statusCode, 201);

    const del = await app.inject({ method: 'DELETE', url: `/api/v1/audio/${entry.id}`, headers: auth });
    assert.equal(del.statusCode, 204);
    for (const url of [
      `/api/v1/audio/${entry.id}`,
      `/api/v1/audio/${entry.id}/transcription`,
      `/api/v1/audio/transcription/${entry.transcription.id}`,
    ]) {
      const gone = await app.inject({ method: 'GET', url, headers: auth });
      assert.equal(gone.statusCode, 404, url);
    }
    const again = await app.inject({ method: 'DELETE', url: `/api/v1/audio/${entry.id}`, headers: auth });
    assert.equal(again.statusCode, 404);

    // The chat session survives, no longer linked to the deleted transcript.
    const kept = await app.inject({ method: 'GET', url: `/api/v1/chat/sessions/${session.json().id}`, headers: auth });
    assert.equal(kept.statusCode, 200);
    assert.equal(kept.json().transcription_id, null);
  });

  test('malformed ids are 422, unknown ids 404, never 500', async () => {
    const { app } = ctx();
    const user = await registerUser(app);
    const auth = bearer(user.accessToken);
    for (const url of ['/api/v1/audio/not-a-uuid', '/api/v1/audio/123/transcription', "/api/v1/audio/transcription/'"]) {
      const res = await app.inject({ method: 'GET', url, headers: auth });
      assert.equal(res.statusCode, 422, url);
    }
    const unknown = await app.inject({
      method: 'GET',
      url: '/api/v1/audio/00000000-0000-7000-8000-000000000000',
      headers: auth,
    });
    assert.equal(unknown.statusCode, 404);
    assert.equal(unknown.json().code, 'not_found');
  });
});
