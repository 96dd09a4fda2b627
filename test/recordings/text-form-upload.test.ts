/**
 * The seed's text upload as its FastAPI `Form()` took it (`curl -F title=… -F original_text=…`): a
 * multipart form with `original_text` and no file part is the JSON text upload, validated by the
 * same schema and answered with the same entry.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeEachDatabase } from '../helpers/app.js';
import { bearer, registerUser, type TestUser } from '../helpers/factory.js';

const MAX_FILE_SIZE = 1024 * 1024;

function textForm(fields: Record<string, string>): FormData {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  return form;
}

/** What may differ between two uploads of the same text. */
function comparable(entry: Record<string, unknown>): unknown {
  const { id: _id, created_at: _c, updated_at: _u, transcription, ...rest } = entry;
  const t = transcription as Record<string, unknown> & { segments: Record<string, unknown>[] };
  const { id: _tid, recording_id: _r, created_at: _tc, updated_at: _tu, completed_at: _done, started_at: _s, ...tRest } = t;
  return {
    ...rest,
    transcription: { ...tRest, segments: t.segments.map(({ id: _sid, transcription_id: _st, ...segment }) => segment) },
  };
}

describeEachDatabase(
  'a multipart text upload (no file part)',
  (ctx) => {
    const post = (user: TestUser, payload: FormData | Record<string, string>) =>
      ctx().app.inject({ method: 'POST', url: '/api/v1/audio/upload', headers: bearer(user.accessToken), payload });

    test('gives the same entry as the same fields sent as JSON', async () => {
      const user = await registerUser(ctx().app);
      const fields = {
        title: 'Reunión',
        original_text: 'Hola a todos. Empezamos la reunión a las 10.30 h. ¿Alguna pregunta? Sí, una.',
        language: 'es',
      };
      const asForm = await post(user, textForm(fields));
      assert.equal(asForm.statusCode, 201, asForm.body);
      const asJson = await post(user, fields);
      assert.equal(asJson.statusCode, 201, asJson.body);
      const entry = asForm.json();
      assert.equal(entry.kind, 'text');
      assert.equal(entry.source, 'upload', 'the schema default applies');
      assert.equal(entry.transcription.status, 'completed');
      assert.deepEqual(comparable(entry), comparable(asJson.json()));
    });

    test('is validated as the JSON body is: the same 422s naming the same fields', async () => {
      const user = await registerUser(ctx().app);
      const cases: Record<string, string>[] = [
        { title: '   ', original_text: 'Hola.' },
        { original_text: 'Hola.' },
        { title: 'x', original_text: '' },
        { title: 'x', original_text: 'Hola.', language: 'not a tag!' },
      ];
      for (const fields of cases) {
        const asForm = await post(user, textForm(fields));
        const asJson = await post(user, fields);
        assert.equal(asForm.statusCode, 422, `${JSON.stringify(fields)}: ${asForm.body}`);
        assert.equal(asJson.statusCode, 422, asJson.body);
        assert.equal(asForm.json().code, 'validation_failed');
        assert.deepEqual(asForm.json().errors, asJson.json().errors, JSON.stringify(fields));
      }
      const nul = await post(user, textForm({ title: 't', original_text: 'a\u0000b' }));
      assert.equal(nul.statusCode, 422);
      assert.equal(nul.json().errors[0].field, 'body.original_text');
    });

    test('a form with neither a file nor original_text is still 422 "no file part"', async () => {
      const user = await registerUser(ctx().app);
      const res = await post(user, textForm({ title: 'Only a title' }));
      assert.equal(res.statusCode, 422, res.body);
      assert.match(res.json().detail, /no file part/);
      assert.equal(res.json().errors[0].field, 'file');
    });

    test('original_text may be as long as a JSON body may be, and no longer', async () => {
      const user = await registerUser(ctx().app);
      const sentence = 'Esta es una frase de prueba bastante larga. ';
      const long = sentence.repeat(Math.floor((MAX_FILE_SIZE / 2) / sentence.length));
      const ok = await post(user, textForm({ title: 'Larga', original_text: long }));
      assert.equal(ok.statusCode, 201, ok.body.slice(0, 500));
      assert.equal(ok.json().original_text, long, 'not cut at a field size limit');

      const tooLong = await post(user, textForm({ title: 'Demasiado', original_text: 'x'.repeat(MAX_FILE_SIZE + 1) }));
      assert.equal(tooLong.statusCode, 413, tooLong.body.slice(0, 500));
      assert.equal(tooLong.json().code, 'payload_too_large');
    });
  },
  { MAX_FILE_SIZE: String(MAX_FILE_SIZE) },
);
