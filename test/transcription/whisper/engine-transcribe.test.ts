/* Transcribing with the tiny model: languages, context reuse, concurrency, windows and resampling. */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import type { EngineSegment } from '../../../src/transcription/engines/engine.js';
import {
  assertSegmentsSane,
  audio,
  calls,
  dir,
  DURATION,
  engine,
  englishModelPath,
  expectEngineError,
  options,
} from './engine-fixture.js';
import { writeTestWav } from './tiny-model.js';

test('transcribes a WAV with the tiny model, detecting the language; a second run reuses the context', async (t) => {
  const whisper = engine();
  const progress: number[] = [];
  const live: EngineSegment[] = [];
  const started = Date.now();
  const result = await whisper.transcribe(audio, options({ onProgress: (p) => progress.push(p), onSegment: (s) => live.push(s) }));
  const elapsed = Date.now() - started;
  assert.equal(result.model, 'tiny.bin');
  assert.equal(result.duration, DURATION);
  assert.equal(typeof result.language, 'string', 'the detected language is returned');
  assertSegmentsSane(result.segments, DURATION);
  assert.deepEqual(live, result.segments);
  assert.equal(progress.at(-1), 100);
  assert.deepEqual([...progress].sort((a, b) => a - b), progress, 'progress never goes back');
  assert.equal(calls.contexts, 1);
  t.diagnostic(`first tiny-model transcription of ${DURATION} s (model load included): ${elapsed} ms, language ${result.language}`);

  const again = await whisper.transcribe(audio, options({ language: 'de', prompt: 'Vokabular: Transkription', wordTimestamps: true }));
  assert.equal(again.language, 'de');
  assertSegmentsSane(again.segments, DURATION);
  assert.equal(calls.contexts, 1, 'the loaded context is reused');
});

test('concurrent transcriptions on one engine share the context and take turns', async () => {
  const whisper = engine();
  const before = calls.contexts;
  const results = await Promise.all([
    whisper.transcribe(audio, options({ language: 'en' })),
    whisper.transcribe(audio, options()),
    whisper.transcribe(audio, options({ language: 'fr' })),
  ]);
  assert.equal(calls.contexts - before, 1);
  assert.equal(results[0].language, 'en');
  assert.equal(results[2].language, 'fr');
  for (const result of results) assertSegmentsSane(result.segments, DURATION);
});

test('long audio is fed in windows whose segments stay in order and inside the audio', async () => {
  const whisper = engine({}, 1);
  const before = calls.transcribeData;
  const result = await whisper.transcribe(audio, options({ language: 'en' }));
  assert.ok(calls.transcribeData - before >= 3, `${calls.transcribeData - before} whisper.cpp calls`);
  assertSegmentsSane(result.segments, DURATION);
});

test('a WAV that is not 16 kHz mono goes to whisper.cpp whole, which resamples it', async () => {
  const whisper = engine();
  const file = writeTestWav(path.join(dir, 'eight-khz.wav'), 2, 8000);
  const before = calls.transcribeFile;
  const result = await whisper.transcribe({ wavPath: file, durationSeconds: 2 }, options({ language: 'en' }));
  assert.equal(calls.transcribeFile - before, 1);
  assertSegmentsSane(result.segments, 2);
});

test('an English-only model answers English and refuses other languages', async () => {
  const whisper = engine({ model: englishModelPath });
  const result = await whisper.transcribe(audio, options());
  assert.equal(result.language, 'en');
  await expectEngineError(whisper.transcribe(audio, options({ language: 'de' })), 'language_not_supported', /English-only/);
});

test('an unknown language code is refused', async () => {
  await expectEngineError(engine().transcribe(audio, options({ language: 'xx' })), 'language_not_supported');
});
