import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { sql } from 'drizzle-orm';
import { asSystem } from '../../src/db/scope.js';
import { describeEachDatabase } from '../helpers/app.js';
import { bearer, createTextEntry, registerUser } from '../helpers/factory.js';
import { fakeServer, json, openaiCompletion } from '../helpers/fake-llm.js';

const DIALOGUE = 'Ana: Hola a todos. Empezamos la reunión.\nSPEAKER_1: El presupuesto sube.\nY sigue el mismo turno.\nAna: Gracias.';

const openai = await fakeServer((_req, res) =>
  json(res, 200, openaiCompletion('Ana abre la reunión [0].', { prompt_tokens: 30, completion_tokens: 8 })),
);

after(() => openai.close());

/** `start --> end` and the voice of each cue, read back from a WebVTT document. */
function parseVtt(vtt: string): Array<{ start: string; speaker: string | null; text: string }> {
  assert.ok(vtt.startsWith('WEBVTT\n\n'), vtt);
  return vtt
    .slice('WEBVTT\n\n'.length)
    .trim()
    .split('\n\n')
    .map((cue) => {
      const [timing, ...lines] = cue.split('\n');
      const body = lines.join('\n');
      const voice = /^<v ([^>]+)>/.exec(body);
      return { start: timing!.split(' --> ')[0]!, speaker: voice ? voice[1]! : null, text: voice ? body.slice(voice[0].length) : body };
    });
}

describeEachDatabase(
  'speakers from text uploads',
  (ctx) => {
    test('`Name:` lines become speakers of their sentences, in the JSON, every export and search', async () => {
      const { app, database } = ctx();
      const user = await registerUser(app);
      const entry = await createTextEntry(app, user, { original_text: DIALOGUE, language: 'es' });
      const get = (query: string) =>
        app.inject({ method: 'GET', url: `/api/v1/audio/transcription/${entry.transcription.id}${query}`, headers: bearer(user.accessToken) });

      const view = (await get('')).json<{ segments: Array<{ text: string; speaker: string | null }> }>();
      assert.deepEqual(
        view.segments.map((s) => [s.speaker, s.text]),
        [
          ['Ana', 'Hola a todos.'],
          ['Ana', 'Empezamos la reunión.'],
          ['SPEAKER_1', 'El presupuesto sube.'],
          ['SPEAKER_1', 'Y sigue el mismo turno.'],
          ['Ana', 'Gracias.'],
        ],
      );

      // A text upload has no times, so subtitles need some: as an engine would have written them.
      await asSystem(database.db, 'test gives the segments times', (tx) =>
        tx.execute(sql`update transcript_segments set start_seconds = index * 2, end_seconds = index * 2 + 1.5
                       where transcription_id = ${entry.transcription.id}`),
      );
      const vtt = await get('?format=vtt');
      assert.equal(vtt.statusCode, 200, vtt.body);
      assert.deepEqual(parseVtt(vtt.body), [
        { start: '00:00:00.000', speaker: 'Ana', text: 'Hola a todos.' },
        { start: '00:00:02.000', speaker: 'Ana', text: 'Empezamos la reunión.' },
        { start: '00:00:04.000', speaker: 'SPEAKER_1', text: 'El presupuesto sube.' },
        { start: '00:00:06.000', speaker: 'SPEAKER_1', text: 'Y sigue el mismo turno.' },
        { start: '00:00:08.000', speaker: 'Ana', text: 'Gracias.' },
      ]);
      assert.match((await get('?format=srt')).body, /^1\n00:00:00,000 --> 00:00:01,500\nAna: Hola a todos\.\n\n2\n/);
      const verbose = (await get('?format=verbose_json')).json<{ segments: Array<{ speaker?: string }> }>();
      assert.deepEqual(verbose.segments.map((s) => s.speaker), ['Ana', 'Ana', 'SPEAKER_1', 'SPEAKER_1', 'Ana']);

      const search = await app.inject({ method: 'GET', url: '/api/v1/search?q=presupuesto', headers: bearer(user.accessToken) });
      assert.deepEqual(
        search.json<{ items: Array<{ speaker: string | null; text: string }> }>().items.map((h) => [h.speaker, h.text]),
        [['SPEAKER_1', 'El presupuesto sube.']],
      );
    });

    test('chat grounding names the speaker before each segment’s text', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      const entry = await createTextEntry(app, user, { original_text: DIALOGUE, language: 'es' });
      const res = await app.inject({
        method: 'POST',
        url: '/api/v1/chat/completion',
        headers: bearer(user.accessToken),
        payload: { transcription_id: entry.transcription.id, message: '¿Quién abre la reunión?' },
      });
      assert.equal(res.statusCode, 200, res.body);
      const prompt = (openai.requests.at(-1)!.body.messages ?? []).map((m) => String(m.content)).join('\n');
      assert.match(prompt, /^\[0\] Ana: Hola a todos\.$/m);
      assert.match(prompt, /^\[3\] SPEAKER_1: Y sigue el mismo turno\.$/m);
    });

    test('text without `Name:` lines has no speakers', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      const entry = await createTextEntry(app, user, { original_text: 'See https://example.com at 10:30. Done.', language: 'en' });
      const view = await app.inject({ method: 'GET', url: `/api/v1/audio/transcription/${entry.transcription.id}`, headers: bearer(user.accessToken) });
      assert.deepEqual(
        view.json<{ segments: Array<{ text: string; speaker: string | null }> }>().segments.map((s) => [s.speaker, s.text]),
        [[null, 'See https://example.com at 10:30.'], [null, 'Done.']],
      );
    });
  },
  { OPENAI_BASE_URL: `${openai.origin}/v1`, OPENAI_API_KEY: 'sk-test', LLM_MODEL: 'gpt-test' },
);
