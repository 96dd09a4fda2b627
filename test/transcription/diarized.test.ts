/**
 * Speakers from the openai engine: a diarizing model (gpt-4o-transcribe-diarize, or one listed in
 * STT_DIARIZE_MODELS) is asked for diarized_json through the official SDK, with the known speakers
 * the request named, and its speakers reach the stored segments and every export. A fake
 * OpenAI-compatible speech server stands in for the provider.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { sql } from 'drizzle-orm';
import { encodeWav } from '../../src/audio/wav.js';
import { queryRows } from '../../src/db/client.js';
import { asSystem } from '../../src/db/scope.js';
import { isDiarizingModel, mapDiarized } from '../../src/transcription/engines/openai-diarized.js';
import { checkSpeakerHints, MAX_REFERENCE_BYTES } from '../../src/transcription/speaker-hints.js';
import { describeEachDatabase } from '../helpers/app.js';
import { bearer, registerUser, uploadClip, type TestUser } from '../helpers/factory.js';
import { json } from '../helpers/fake-llm.js';
import { diarizedBody, fakeSpeech, type SpeechRequest } from '../helpers/fake-speech.js';

/** A short WAV as a data URL: what a client sends as a known speaker's sample. */
function sample(seconds: number, tone: number): string {
  const samples = new Int16Array(Math.round(seconds * 16_000)).map((_, i) => Math.round(3000 * Math.sin((i * tone) / 16_000)));
  return `data:audio/wav;base64,${encodeWav(samples, 16_000).toString('base64')}`;
}
const ANA = sample(0.5, 900);
const BEN = sample(0.5, 1400);

const isDiarized = (request: SpeechRequest) => request.fields.get('response_format')?.[0] === 'diarized_json';

/** Diarizing requests get two speakers per upload (A then B, or the known names); others verbose_json. */
const speech = await fakeSpeech((request, res) => {
  if (!isDiarized(request)) {
    json(res, 200, { task: 'transcribe', language: 'english', duration: 3, text: 'Plain.', segments: [{ start: 0, end: 1, text: 'Plain.' }] });
    return;
  }
  const names = request.fields.get('known_speaker_names[]') ?? [];
  const [first, second] = [names[0] ?? 'A', names[1] ?? 'B'];
  json(
    res,
    200,
    diarizedBody(
      [
        { start: 0.1, end: 0.9, text: 'He was not', speaker: first },
        { start: 1.0, end: 1.8, text: 'an ill disposed young man.', speaker: second },
      ],
      2,
    ),
  );
});
after(() => speech.close());

function field(request: SpeechRequest, name: string): string[] | undefined {
  return request.fields.get(name);
}

describeEachDatabase(
  'the openai engine with a diarizing model',
  (ctx) => {
    let user: TestUser;

    async function transcribe(recordingId: string, body: Record<string, unknown>) {
      return ctx().app.inject({
        method: 'POST',
        url: `/api/v1/audio/${recordingId}/transcribe?wait=60`,
        headers: bearer(user.accessToken),
        payload: body,
      });
    }

    async function exported(recordingId: string, format: string): Promise<string> {
      const res = await ctx().app.inject({
        method: 'GET',
        url: `/api/v1/audio/${recordingId}/transcription?format=${format}`,
        headers: bearer(user.accessToken),
      });
      assert.equal(res.statusCode, 200, res.body);
      return res.body;
    }

    test('known speakers go to the provider as OpenAI takes them, and their names label the stored segments', async () => {
      user = await registerUser(ctx().app);
      const id = await uploadClip(ctx().app, user);
      const before = speech.requests.length;
      const res = await transcribe(id, {
        engine: 'openai',
        model: 'gpt-4o-transcribe-diarize',
        language: 'en',
        prompt: 'Sense and Sensibility',
        word_timestamps: true,
        known_speaker_names: ['Ana', ' Ben '],
        known_speaker_references: [ANA, BEN],
      });
      assert.equal(res.statusCode, 200, res.body);
      const t = res.json();
      assert.equal(t.status, 'completed', t.error);
      assert.deepEqual(
        t.segments.map((s: { speaker: string; text: string }) => [s.speaker, s.text]),
        [
          ['Ana', 'He was not'],
          ['Ben', 'an ill disposed young man.'],
        ],
      );
      assert.equal(t.language, 'en', 'diarized_json names no language: the asked one stands');
      const [kept] = await asSystem(ctx().database.db, 'test reads what stays of the hints', (tx) =>
        queryRows<{ hints: unknown }>(tx, sql`select speaker_hints as hints from transcriptions where id = ${t.id}`),
      );
      assert.deepEqual(kept!.hints, { names: ['Ana', 'Ben'], references: [] }, 'the voice samples are not kept past the run');

      assert.equal(speech.requests.length, before + 1);
      const sent = speech.requests.at(-1)!;
      assert.equal(sent.url, '/v1/audio/transcriptions');
      assert.deepEqual(field(sent, 'model'), ['gpt-4o-transcribe-diarize']);
      assert.deepEqual(field(sent, 'response_format'), ['diarized_json']);
      assert.deepEqual(field(sent, 'chunking_strategy'), ['auto']);
      assert.deepEqual(field(sent, 'language'), ['en']);
      assert.deepEqual(field(sent, 'known_speaker_names[]'), ['Ana', 'Ben'], 'names trimmed, in order');
      assert.deepEqual(field(sent, 'known_speaker_references[]'), [ANA, BEN]);
      // OpenAI refuses these with diarizing models.
      assert.equal(field(sent, 'prompt'), undefined);
      assert.equal(field(sent, 'timestamp_granularities[]'), undefined);
      assert.ok(sent.file && sent.file.bytes.length > 44);

      assert.match(await exported(id, 'vtt'), /<v Ana>He was not\n[\s\S]*<v Ben>an ill disposed young man\./);
      assert.match(await exported(id, 'srt'), /Ana: He was not\n[\s\S]*Ben: an ill disposed young man\./);
      const verbose = JSON.parse(await exported(id, 'verbose_json'));
      assert.deepEqual(
        verbose.segments.map((s: { speaker?: string }) => s.speaker),
        ['Ana', 'Ben'],
      );
    });

    test("without known speakers the provider's own labels are kept, and no hints are sent", async () => {
      const id = await uploadClip(ctx().app, user);
      const res = await transcribe(id, { engine: 'openai', model: 'gpt-4o-transcribe-diarize' });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(
        res.json().segments.map((s: { speaker: string }) => s.speaker),
        ['A', 'B'],
      );
      const sent = speech.requests.at(-1)!;
      assert.deepEqual(field(sent, 'response_format'), ['diarized_json']);
      assert.equal(field(sent, 'known_speaker_names[]'), undefined);
      assert.equal(field(sent, 'known_speaker_references[]'), undefined);
      assert.equal(field(sent, 'language'), undefined);
      assert.match(await exported(id, 'vtt'), /<v A>He was not/);
    });

    test('STT_DIARIZE_MODELS makes another name diarize; other models keep verbose_json and name nobody', async () => {
      const id = await uploadClip(ctx().app, user);
      const listed = await transcribe(id, { engine: 'openai', model: 'house-diarizer', known_speaker_names: ['Ana'], known_speaker_references: [ANA] });
      assert.equal(listed.statusCode, 200, listed.body);
      assert.deepEqual(
        listed.json().segments.map((s: { speaker: string }) => s.speaker),
        ['Ana', 'B'],
      );
      assert.ok(isDiarized(speech.requests.at(-1)!));

      const plain = await transcribe(id, { engine: 'openai', model: 'whisper-1' });
      assert.equal(plain.statusCode, 200, plain.body);
      assert.deepEqual(
        plain.json().segments.map((s: { speaker: string | null }) => s.speaker),
        [null],
      );
      const sent = speech.requests.at(-1)!;
      assert.deepEqual(field(sent, 'response_format'), ['verbose_json']);
      assert.equal(field(sent, 'chunking_strategy'), undefined);
    });

    test('bad known speakers are 422 before anything is queued', async () => {
      const id = await uploadClip(ctx().app, user);
      const before = speech.requests.length;
      const diarize = { engine: 'openai', model: 'gpt-4o-transcribe-diarize' };
      const cases: Array<[Record<string, unknown>, string, RegExp]> = [
        [{ engine: 'sphinx', known_speaker_names: ['Ana'], known_speaker_references: [ANA] }, 'speaker_hints_not_supported', /openai engine/],
        [{ engine: 'whisper', known_speaker_names: ['Ana'], known_speaker_references: [ANA] }, 'speaker_hints_not_supported', /whisper/],
        [{ engine: 'openai', model: 'whisper-1', known_speaker_names: ['Ana'], known_speaker_references: [ANA] }, 'speaker_hints_not_supported', /whisper-1/],
        [{ ...diarize, known_speaker_names: ['Ana'] }, 'validation_failed', /known_speaker_references is required/],
        [{ ...diarize, known_speaker_references: [ANA] }, 'validation_failed', /known_speaker_names is required/],
        [{ ...diarize, known_speaker_names: ['Ana', 'Ben'], known_speaker_references: [ANA] }, 'validation_failed', /one sample per name/],
        [{ ...diarize, known_speaker_names: ['Ana', 'ana'], known_speaker_references: [ANA, BEN] }, 'validation_failed', /repeats/],
        [{ ...diarize, known_speaker_names: ['Ana\nBen'], known_speaker_references: [ANA] }, 'validation_failed', /one line/],
        [{ ...diarize, known_speaker_names: ['   '], known_speaker_references: [ANA] }, 'validation_failed', /one line/],
        [{ ...diarize, known_speaker_names: ['Ana'], known_speaker_references: ['https://example.com/ana.wav'] }, 'validation_failed', /data URL/],
        [{ ...diarize, known_speaker_names: ['Ana'], known_speaker_references: ['data:text/plain;base64,SGk='] }, 'validation_failed', /data URL/],
        [{ ...diarize, known_speaker_names: ['Ana'], known_speaker_references: ['data:audio/wav;base64,'] }, 'validation_failed', /data URL/],
        [{ ...diarize, known_speaker_names: ['A', 'B', 'C', 'D', 'E'], known_speaker_references: [ANA, ANA, ANA, ANA, ANA] }, 'validation_failed', /known_speaker_names/],
        [{ ...diarize, known_speaker_names: [], known_speaker_references: [] }, 'validation_failed', /known_speaker_names/],
        [{ ...diarize, known_speaker_names: [{ name: 'Ana' }], known_speaker_references: [ANA] }, 'validation_failed', /known_speaker_names/],
      ];
      for (const [body, code, detail] of cases) {
        const res = await transcribe(id, body);
        assert.equal(res.statusCode, 422, `${JSON.stringify(body).slice(0, 120)}: ${res.body}`);
        assert.equal(res.json().code, code, res.body);
        assert.match(res.json().detail, detail);
      }
      assert.equal(speech.requests.length, before, 'nothing reached the provider');
      const latest = await ctx().app.inject({ method: 'GET', url: `/api/v1/audio/${id}/transcription`, headers: bearer(user.accessToken) });
      assert.equal(latest.statusCode, 404, 'nothing was stored');
    });
  },
  { STT_BASE_URL: speech.baseUrl, STT_DIARIZE_MODELS: 'house-diarizer, other' },
  { startQueue: true },
);

describeEachDatabase(
  'a diarized file cut into chunks',
  (ctx) => {
    test('each chunk is asked for diarized_json and its segments move by the chunk’s offset, labels as given', async () => {
      const { app } = ctx();
      const user = await registerUser(app);
      const id = await uploadClip(app, user);
      const before = speech.requests.length;
      const res = await app.inject({
        method: 'POST',
        url: `/api/v1/audio/${id}/transcribe?wait=60`,
        headers: bearer(user.accessToken),
        payload: { engine: 'openai', model: 'gpt-4o-transcribe-diarize' },
      });
      assert.equal(res.statusCode, 200, res.body);
      const t = res.json();
      assert.equal(t.status, 'completed', t.error);
      const sent = speech.requests.slice(before);
      // 3 s of 16 kHz PCM is 96 kB: two uploads under 64 KiB.
      assert.equal(sent.length, 2);
      assert.ok(sent.every(isDiarized));
      assert.ok(sent.every((r) => field(r, 'prompt') === undefined), 'no prompt carries across chunks');
      const segments = t.segments as Array<{ start: number; end: number; speaker: string }>;
      assert.deepEqual(
        segments.map((s) => s.speaker),
        ['A', 'B', 'A', 'B'],
        "per-request labels, as the provider gave them",
      );
      assert.equal(segments[0]!.start, 0.1);
      // The second upload starts at the cut (≤ 2.05 s in): its segments start there plus 0.1 s.
      const offset = segments[2]!.start - 0.1;
      assert.ok(offset > 1.5 && offset < 2.05, String(offset));
      for (let i = 1; i < segments.length; i++) assert.ok(segments[i]!.start >= segments[i - 1]!.start);
      assert.ok(segments[3]!.end <= 3.01, 'clamped to the audio');
    });
  },
  { STT_BASE_URL: speech.baseUrl, STT_MAX_UPLOAD_BYTES: String(64 * 1024) },
  { startQueue: true },
);

test('mapDiarized: times offset and clamped to the chunk, empty or broken segments dropped, blank labels unnamed', () => {
  const mapped = mapDiarized(
    {
      text: 'One two',
      segments: [
        { start: 0.5, end: 9, text: ' two ', speaker: ' B ' },
        { start: 0, end: 0.4, text: 'One', speaker: 'A' },
        { start: 0.2, end: 0.3, text: '   ', speaker: 'A' },
        { start: 'x', end: 1, text: 'bad', speaker: 'A' },
        null,
        { start: 0.6, end: 0.7, text: 'three', speaker: '' },
      ],
    },
    10,
    2,
  );
  assert.deepEqual(mapped.segments, [
    { start: 10, end: 10.4, text: 'One', speaker: 'A' },
    { start: 10.5, end: 12, text: 'two', speaker: 'B' },
    { start: 10.6, end: 10.7, text: 'three' },
  ]);
  assert.deepEqual(mapDiarized({ text: ' Only text ' }, 4, 2).segments, [{ start: 4, end: 6, text: 'Only text' }]);
  assert.deepEqual(mapDiarized('plain', 0, 1).segments, [{ start: 0, end: 1, text: 'plain' }]);
});

test('isDiarizingModel: names with "diarize", and those STT_DIARIZE_MODELS lists', () => {
  assert.equal(isDiarizingModel('gpt-4o-transcribe-diarize', {}), true);
  assert.equal(isDiarizingModel('whisper-1', {}), false);
  assert.equal(isDiarizingModel('house', { diarizeModels: ['house'] }), true);
  assert.equal(isDiarizingModel('gpt-4o-transcribe', { diarizeModels: ['house'] }), false);
});

test('checkSpeakerHints: a sample is bounded by its decoded size', () => {
  const fields = { names: 'n', references: 'r' };
  const payload = (bytes: number) => `data:audio/ogg;codecs=opus;base64,${Buffer.alloc(bytes, 1).toString('base64')}`;
  assert.deepEqual(checkSpeakerHints(['Ana'], [payload(MAX_REFERENCE_BYTES)], fields).problems, []);
  assert.match(checkSpeakerHints(['Ana'], [payload(MAX_REFERENCE_BYTES + 1)], fields).problems[0]!.message, /over/);
  assert.match(checkSpeakerHints(['Ana'], [payload(4 * MAX_REFERENCE_BYTES)], fields).problems[0]!.message, /over/);
  assert.deepEqual(checkSpeakerHints(undefined, undefined, fields), { hints: null, problems: [] });
});
