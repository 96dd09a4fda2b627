/**
 * response_format=diarized_json on POST /v1/audio/transcriptions, called with the official openai
 * SDK: speakers from a diarizing provider (a fake OpenAI-compatible speech server behind the openai
 * engine), with the known speakers passed through both hops, and from a local engine that names
 * nobody (sphinx), whose segments are all labelled A.
 */
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';
import type { TranscriptionDiarized } from 'openai/resources/audio/transcriptions';
import { encodeWav } from '../../src/audio/wav.js';
import { chooseModel } from '../../src/openai-compat/models.js';
import { describeEachDatabase } from '../helpers/app.js';
import { shortClip } from '../helpers/audio.js';
import { testConfig } from '../helpers/config.js';
import { bearer, registerUser } from '../helpers/factory.js';
import { json } from '../helpers/fake-llm.js';
import { diarizedBody, fakeSpeech } from '../helpers/fake-speech.js';

function sample(seconds: number): string {
  const samples = new Int16Array(Math.round(seconds * 16_000)).map((_, i) => Math.round(3000 * Math.sin(i / 10)));
  return `data:audio/wav;base64,${encodeWav(samples, 16_000).toString('base64')}`;
}
const ANA = sample(0.4);
const BEN = sample(0.6);

const speech = await fakeSpeech((request, res) => {
  const names = request.fields.get('known_speaker_names[]') ?? [];
  json(
    res,
    200,
    diarizedBody(
      [
        { start: 0.2, end: 1.1, text: 'He was not', speaker: names[0] ?? 'A' },
        { start: 1.2, end: 2.6, text: 'an ill disposed young man.', speaker: names[1] ?? 'B' },
      ],
      3,
    ),
  );
});
after(() => speech.close());

describeEachDatabase(
  'diarized_json through the OpenAI-compatible endpoint and the official SDK',
  (ctx) => {
    let client: OpenAI;

    before(async () => {
      const { app } = ctx();
      await app.listen({ host: '127.0.0.1', port: 0 });
      const { port } = app.server.address() as AddressInfo;
      const user = await registerUser(app);
      const key = await app.inject({
        method: 'POST',
        url: '/api/v1/auth/api-keys',
        headers: bearer(user.accessToken),
        payload: { name: 'sdk' },
      });
      client = new OpenAI({ apiKey: key.json().key, baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 0, timeout: 120_000 });
    });

    /** The SDK types a diarized_json answer as a plain Transcription; it is the diarized shape. */
    async function diarized(body: Omit<OpenAI.Audio.TranscriptionCreateParamsNonStreaming, 'file' | 'response_format'>) {
      const result = await client.audio.transcriptions.create({
        file: createReadStream(shortClip().wavPath),
        response_format: 'diarized_json',
        ...body,
      });
      return result as unknown as TranscriptionDiarized;
    }

    test('a diarizing provider: its speakers, named by the known speakers the client sent', async () => {
      const before = speech.requests.length;
      const result = await diarized({
        model: 'openai/gpt-4o-transcribe-diarize',
        known_speaker_names: ['Ana', 'Ben'],
        known_speaker_references: [ANA, BEN],
      });
      assert.equal(result.task, 'transcribe');
      assert.equal(result.text, 'He was not an ill disposed young man.');
      assert.ok(result.duration > 2.9 && result.duration < 3.1, String(result.duration));
      assert.deepEqual(result.usage, { type: 'duration', seconds: result.duration });
      assert.deepEqual(
        result.segments.map(({ type, id, start, end, text, speaker }) => ({ type, id, start, end, text, speaker })),
        [
          { type: 'transcript.text.segment', id: 'seg_0', start: 0.2, end: 1.1, text: 'He was not', speaker: 'Ana' },
          { type: 'transcript.text.segment', id: 'seg_1', start: 1.2, end: 2.6, text: 'an ill disposed young man.', speaker: 'Ben' },
        ],
      );
      assert.equal(speech.requests.length, before + 1);
      const sent = speech.requests.at(-1)!;
      assert.deepEqual(sent.fields.get('model'), ['gpt-4o-transcribe-diarize']);
      assert.deepEqual(sent.fields.get('response_format'), ['diarized_json']);
      assert.deepEqual(sent.fields.get('known_speaker_names[]'), ['Ana', 'Ben']);
      assert.deepEqual(sent.fields.get('known_speaker_references[]'), [ANA, BEN]);
    });

    test('a local engine that names nobody: every segment is speaker A', async () => {
      for (const model of ['sphinx', 'gpt-4o-transcribe-diarize']) {
        const result = await diarized({ model, language: 'en' });
        assert.equal(result.task, 'transcribe');
        assert.match(result.text.toLowerCase(), /young man/);
        assert.ok(result.segments.length >= 1, model);
        for (const [i, segment] of result.segments.entries()) {
          assert.equal(segment.type, 'transcript.text.segment');
          assert.equal(segment.id, `seg_${i}`);
          assert.equal(segment.speaker, 'A', model);
          assert.ok(segment.end >= segment.start);
        }
        assert.equal(result.segments.map((s) => s.text).join(' '), result.text);
        assert.equal(result.usage?.type, 'duration');
      }
    });

    test('refusals in OpenAI’s shape: streaming diarized_json, bad known speakers, known speakers for sphinx', async () => {
      const refused = async (body: Record<string, unknown>, status: number, expect: { param?: string; code: string }) => {
        await assert.rejects(
          client.audio.transcriptions.create({
            file: createReadStream(shortClip().wavPath),
            model: 'openai/gpt-4o-transcribe-diarize',
            response_format: 'diarized_json',
            ...body,
          } as OpenAI.Audio.TranscriptionCreateParamsNonStreaming),
          (error: unknown) => {
            assert.ok(error instanceof OpenAI.APIError, String(error));
            assert.equal(error.status, status, String(error));
            const detail = error.error as { param?: string | null; code?: string };
            assert.equal(detail.code, expect.code, String(error));
            if (expect.param) assert.equal(detail.param, expect.param, String(error));
            return true;
          },
        );
      };
      const before = speech.requests.length;
      await refused({ stream: true }, 400, { param: 'response_format', code: 'validation_failed' });
      await refused({ known_speaker_names: ['Ana', 'Ben'], known_speaker_references: [ANA] }, 400, {
        param: 'known_speaker_references[]',
        code: 'validation_failed',
      });
      await refused({ known_speaker_names: ['Ana'], known_speaker_references: ['data:audio/wav;base64,@@'] }, 400, {
        param: 'known_speaker_references[][0]',
        code: 'validation_failed',
      });
      await refused({ known_speaker_names: ['A', 'B', 'C', 'D', 'E'], known_speaker_references: [ANA, ANA, ANA, ANA, ANA] }, 400, {
        param: 'known_speaker_names[]',
        code: 'validation_failed',
      });
      await refused({ model: 'sphinx', known_speaker_names: ['Ana'], known_speaker_references: [ANA] }, 400, {
        code: 'speaker_hints_not_supported',
      });
      // A sample may hold 1 MiB of audio (10 s of 16 kHz WAV fits); 40 s is refused, naming the field…
      await refused({ known_speaker_names: ['Ana'], known_speaker_references: [sample(40)] }, 400, {
        param: 'known_speaker_references[][0]',
        code: 'validation_failed',
      });
      // …and form text past the room of four such samples is cut off as it arrives.
      await refused({ known_speaker_names: ['Ana'], known_speaker_references: [`data:audio/wav;base64,${'A'.repeat(6_200_000)}`] }, 413, {
        code: 'payload_too_large',
      });
      assert.equal(speech.requests.length, before, 'nothing reached the provider');
    });

    test('GET /v1/models lists gpt-4o-transcribe-diarize', async () => {
      const ids = [];
      for await (const model of client.models.list()) ids.push(model.id);
      assert.ok(ids.includes('gpt-4o-transcribe-diarize'), ids.join(', '));
    });
  },
  { STT_BASE_URL: speech.baseUrl },
  { startQueue: true },
);

test('gpt-4o-transcribe-diarize means the default engine, diarizing where that is the openai engine', () => {
  const stt = (env: Record<string, string>) => testConfig(env).stt;
  assert.deepEqual(chooseModel('gpt-4o-transcribe-diarize', stt({ STT_ENGINE: 'sphinx' })), { engine: 'sphinx' });
  assert.deepEqual(chooseModel('gpt-4o-transcribe-diarize', stt({ STT_ENGINE: 'openai', STT_API_KEY: 'k' })), {
    engine: 'openai',
    model: 'gpt-4o-transcribe-diarize',
  });
  assert.deepEqual(
    chooseModel('gpt-4o-transcribe-diarize', stt({ STT_ENGINE: 'openai', STT_BASE_URL: 'http://127.0.0.1:1/v1', STT_MODEL: 'spk', STT_DIARIZE_MODELS: 'spk' })),
    { engine: 'openai' },
  );
});
