import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_SEGMENTS } from '../../src/transcription/sentences.js';
import { describeHttpSurface } from './http-surface-fixture.js';

describeHttpSurface((t) => {
  // Found while writing the shutdown tests: every sentence segment goes into one INSERT with five
  // bind parameters per row, so past 13,107 segments PostgreSQL's 65,535-parameter limit (and,
  // further on, drizzle's recursive query builder) turns a valid upload into a 500.
  test('a text upload far below MAX_FILE_SIZE is stored however many sentences it has', async () => {
    const register = await t().app.inject({
      method: 'POST',
      url: '/api/v1/auth/register',
      payload: { email: `many-${Date.now()}@example.com`, password: 'correct horse battery' },
    });
    assert.equal(register.statusCode, 201, register.body);
    const text = 'Sí. '.repeat(14_000); // 56 kB, 14,000 one-word sentences
    assert.ok(Buffer.byteLength(text) < t().config.maxFileSize / 100);
    const res = await t().app.inject({
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
});
