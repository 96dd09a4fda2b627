/* What OpenAIEngine sends to the provider and how it maps the reply. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseWav } from '../../../src/audio/wav.js';
import type { EngineSegment } from '../../../src/transcription/engines/engine.js';
import { OpenAIEngine } from '../../../src/transcription/engines/openai.js';
import { fakeSpeech } from '../../helpers/fake-speech.js';
import { config, isWav, json, RATE, signal, toneTrack, writeAudio } from './openai-fixture.js';

test('happy path: sends the right request and maps segments and words', async () => {
  const server = await fakeSpeech((_req, res) =>
    json(res, 200, {
      task: 'transcribe',
      language: 'english',
      duration: 3,
      text: ' Hello there. General Kenobi.',
      segments: [
        { id: 0, seek: 0, start: 0.1, end: 1.2, text: ' Hello there.', tokens: [], temperature: 0, avg_logprob: -0.2, compression_ratio: 1, no_speech_prob: 0 },
        { id: 1, seek: 0, start: 1.4, end: 2.9, text: ' General Kenobi. ', tokens: [], temperature: 0.2, avg_logprob: -0.35, compression_ratio: 1.1, no_speech_prob: 0.01 },
      ],
      words: [
        { word: 'Hello', start: 0.1, end: 0.5 },
        { word: 'there', start: 0.6, end: 1.2 },
        { word: 'General', start: 1.4, end: 2.0 },
        { word: 'Kenobi', start: 2.1, end: 2.9 },
      ],
    }),
  );
  try {
    const audio = writeAudio('happy.wav', toneTrack(2, 0.2, 0.5, 1.4).samples);
    const engine = new OpenAIEngine(config({ baseUrl: server.baseUrl }));
    const progress: number[] = [];
    const streamed: EngineSegment[] = [];
    const result = await engine.transcribe(audio, {
      language: 'en',
      prompt: 'Star Wars',
      wordTimestamps: true,
      signal: signal(),
      onProgress: (p) => progress.push(p),
      onSegment: (s) => streamed.push(s),
    });

    assert.equal(server.requests.length, 1);
    const [req] = server.requests;
    assert.equal(req!.method, 'POST');
    assert.equal(req!.url, '/v1/audio/transcriptions');
    assert.equal(req!.headers.authorization, 'Bearer sk-test-key');
    assert.deepEqual(req!.fields.get('model'), ['whisper-1']);
    assert.deepEqual(req!.fields.get('language'), ['en']);
    assert.deepEqual(req!.fields.get('prompt'), ['Star Wars']);
    assert.deepEqual(req!.fields.get('response_format'), ['verbose_json']);
    assert.deepEqual(req!.fields.get('timestamp_granularities[]'), ['word', 'segment']);
    assert.ok(req!.file && isWav(req!.file.bytes), 'the file part is a WAV');
    assert.match(req!.file.name, /\.wav$/);
    assert.equal(parseWav(req!.file.bytes).samples.length, Math.round(audio.durationSeconds * RATE));

    assert.deepEqual(result, {
      language: 'en',
      duration: audio.durationSeconds,
      model: 'whisper-1',
      segments: [
        {
          start: 0.1,
          end: 1.2,
          text: 'Hello there.',
          words: [
            { word: 'Hello', start: 0.1, end: 0.5 },
            { word: 'there', start: 0.6, end: 1.2 },
          ],
          // Each segment keeps the scores the provider gave it.
          avgLogprob: -0.2,
          compressionRatio: 1,
          noSpeechProb: 0,
          temperature: 0,
        },
        {
          start: 1.4,
          end: 2.9,
          text: 'General Kenobi.',
          words: [
            { word: 'General', start: 1.4, end: 2 },
            { word: 'Kenobi', start: 2.1, end: 2.9 },
          ],
          avgLogprob: -0.35,
          compressionRatio: 1.1,
          noSpeechProb: 0.01,
          temperature: 0.2,
        },
      ],
    });
    assert.deepEqual(streamed, result.segments);
    assert.deepEqual(progress, [100]);
  } finally {
    await server.close();
  }
});

test('without word timestamps asks for segments only; options.model wins; detected language is mapped', async () => {
  const server = await fakeSpeech((_req, res) =>
    json(res, 200, {
      language: 'german',
      duration: 1,
      text: 'Hallo',
      segments: [{ start: 0, end: 1, text: ' Hallo ' }],
      words: [{ word: 'Hallo', start: 0, end: 1 }],
    }),
  );
  try {
    const audio = writeAudio('segments.wav', toneTrack(1, 0.1, 0.5, 1).samples);
    const engine = new OpenAIEngine(config({ baseUrl: server.baseUrl }));
    const result = await engine.transcribe(audio, { wordTimestamps: false, model: 'whisper-large-v3', signal: signal() });
    const [req] = server.requests;
    assert.deepEqual(req!.fields.get('timestamp_granularities[]'), ['segment']);
    assert.deepEqual(req!.fields.get('model'), ['whisper-large-v3']);
    assert.equal(req!.fields.get('language'), undefined);
    assert.equal(req!.fields.get('prompt'), undefined);
    assert.equal(result.model, 'whisper-large-v3');
    assert.equal(result.language, 'de');
    assert.deepEqual(result.segments, [{ start: 0, end: 1, text: 'Hallo' }]);
  } finally {
    await server.close();
  }
});

test('a keyless self-hosted server gets no Authorization header', async () => {
  const server = await fakeSpeech((_req, res) => json(res, 200, { language: 'en', text: '', segments: [] }));
  try {
    const audio = writeAudio('keyless.wav', new Int16Array(RATE));
    const engine = new OpenAIEngine(config({ baseUrl: server.baseUrl, apiKey: null }));
    const result = await engine.transcribe(audio, { wordTimestamps: true, signal: signal() });
    assert.equal(server.requests[0]!.headers.authorization, undefined);
    assert.deepEqual(result.segments, []);
  } finally {
    await server.close();
  }
});
