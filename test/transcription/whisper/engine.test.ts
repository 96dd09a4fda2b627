/**
 * The whole WhisperEngine path on the real whisper.cpp addon, with a tiny random-weight model the
 * test writes itself (tiny-model.ts): the text is gibberish, but loading, decoding, timing, language
 * detection, cancellation and context reuse are all whisper.cpp's own.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { SttConfig } from '../../../src/config.js';
import { EngineError, type EngineSegment, type TranscribeOptions } from '../../../src/transcription/engines/engine.js';
import {
  loadWhisperNative,
  routeNativeLogs,
  type LoadedNative,
  type NativeContextOptions,
  type NativeWhisperContext,
} from '../../../src/transcription/engines/whisper-native.js';
import { WhisperEngine } from '../../../src/transcription/engines/whisper.js';
import { findModel } from '../../../src/transcription/models/registry.js';
import { writeTestWav, writeTinyModel } from './tiny-model.js';

const dir = mkdtempSync(path.join(tmpdir(), 'transcribo-whisper-'));
const modelPath = path.join(dir, 'tiny.bin');
const englishModelPath = path.join(dir, 'tiny-en.bin');
const wavPath = path.join(dir, 'three-seconds.wav');
const DURATION = 3;

let server: Server;
let baseUrl: string;

/** The real addon, with its constructor and calls counted. */
const calls = { contexts: 0, transcribeData: 0, transcribeFile: 0 };
let native: LoadedNative;
const engines: WhisperEngine[] = [];
/** whisper.cpp's own log lines, kept out of the test output. */
const nativeLog: string[] = [];
let stopRoutingLogs = () => {};

function config(overrides: Partial<SttConfig['whisper']> = {}): SttConfig['whisper'] {
  return {
    model: modelPath,
    modelsDir: path.join(dir, 'models'),
    modelBaseUrl: baseUrl,
    threads: 2,
    allowedModels: [],
    variant: 'default',
    ...overrides,
  };
}

function engine(
  overrides: Partial<SttConfig['whisper']> = {},
  chunkSeconds?: number,
  maxLoadedModels?: number,
): WhisperEngine {
  const created = new WhisperEngine(config(overrides), { native, chunkSeconds, maxLoadedModels });
  engines.push(created);
  return created;
}

function options(extra: Partial<TranscribeOptions> = {}): TranscribeOptions {
  return { wordTimestamps: false, signal: new AbortController().signal, ...extra };
}

const audio = { wavPath, durationSeconds: DURATION };

function assertSegmentsSane(segments: EngineSegment[], duration: number) {
  let previousStart = 0;
  for (const segment of segments) {
    assert.ok(segment.start >= 0 && segment.start <= segment.end, JSON.stringify(segment));
    assert.ok(segment.end <= duration + 0.5, JSON.stringify(segment));
    assert.ok(segment.start >= previousStart, 'segments come in order');
    assert.equal(typeof segment.text, 'string');
    assert.equal(segment.words, undefined);
    previousStart = segment.start;
  }
}

async function expectEngineError(promise: Promise<unknown>, code: string, message?: RegExp) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof EngineError, String(error));
    assert.equal(error.code, code, error.message);
    assert.equal(error.kind, 'permanent');
    if (message) assert.match(error.message, message);
    return true;
  });
}

before(async () => {
  writeTinyModel(modelPath);
  writeTinyModel(englishModelPath, { nVocab: 51864, seed: 2 });
  writeTestWav(wavPath, DURATION);
  server = createServer((_req, res) => {
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const real = loadWhisperNative('default');
  stopRoutingLogs = routeNativeLogs(real, (level, text) => nativeLog.push(`${level}: ${text}`));
  const RealContext = real.module.WhisperContext;
  class CountingContext {
    constructor(contextOptions: NativeContextOptions) {
      calls.contexts++;
      const context = new RealContext(contextOptions);
      return {
        transcribeData: (...args: Parameters<NativeWhisperContext['transcribeData']>) => {
          calls.transcribeData++;
          return context.transcribeData(...args);
        },
        transcribeFile: (...args: Parameters<NativeWhisperContext['transcribeFile']>) => {
          calls.transcribeFile++;
          return context.transcribeFile(...args);
        },
        release: () => context.release(),
      } satisfies NativeWhisperContext;
    }
  }
  native = { ...real, module: { WhisperContext: CountingContext as unknown as LoadedNative['module']['WhisperContext'] } };
});

after(async () => {
  for (const created of engines) await created.close();
  stopRoutingLogs();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

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

test('aborting shortly after the start rejects with an AbortError, and the engine still works after', async () => {
  const whisper = engine();
  const controller = new AbortController();
  const pending = whisper.transcribe(audio, options({ signal: controller.signal }));
  setTimeout(() => controller.abort(), 30);
  await assert.rejects(pending, { name: 'AbortError' });

  const result = await whisper.transcribe(audio, options({ language: 'en' }));
  assert.equal(result.language, 'en');
  assertSegmentsSane(result.segments, DURATION);
});

test('aborting while whisper.cpp is running stops it and waits for it before rejecting', async () => {
  const whisper = engine();
  await whisper.transcribe(audio, options({ language: 'en' })); // loaded, so the abort lands mid-decode
  const controller = new AbortController();
  const before = calls.transcribeData;
  const pending = whisper.transcribe(audio, options({ signal: controller.signal, onProgress: () => controller.abort() }));
  await assert.rejects(pending, { name: 'AbortError' });
  // The job, then the probe that waited for whisper.cpp to let go of the context.
  assert.equal(calls.transcribeData - before, 2);

  const result = await whisper.transcribe(audio, options());
  assert.equal(typeof result.language, 'string');
  assertSegmentsSane(result.segments, DURATION);
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

test('a transcription waiting for its turn can be cancelled without waiting for the one running', async () => {
  const whisper = engine();
  await whisper.transcribe(audio, options({ language: 'en' }));
  const order: string[] = [];
  const running = whisper.transcribe(audio, options()).finally(() => order.push('running'));
  const controller = new AbortController();
  const waiting = whisper.transcribe(audio, options({ signal: controller.signal })).finally(() => order.push('waiting'));
  await new Promise((resolve) => setTimeout(resolve, 5));
  controller.abort();
  await assert.rejects(waiting, { name: 'AbortError' });
  const result = await running;
  assert.deepEqual(order, ['waiting', 'running']);
  assertSegmentsSane(result.segments, DURATION);
  // The queue is intact afterwards.
  assertSegmentsSane((await whisper.transcribe(audio, options({ language: 'en' }))).segments, DURATION);
});

test('an already aborted signal rejects at once with its reason', async () => {
  const whisper = engine();
  const controller = new AbortController();
  const reason = new Error('job cancelled');
  controller.abort(reason);
  await assert.rejects(whisper.transcribe(audio, options({ signal: controller.signal })), (error) => error === reason);
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

test('a missing model file is model_unavailable', async () => {
  const missing = path.join(dir, 'nowhere', 'ggml-missing.bin');
  await expectEngineError(engine({ model: missing }).transcribe(audio, options()), 'model_unavailable', /does not exist/);
});

test('random bytes as a model are model_unavailable with a clear message', async () => {
  const corrupt = path.join(dir, 'corrupt.bin');
  writeFileSync(corrupt, randomBytes(200_000));
  await expectEngineError(engine({ model: corrupt }).transcribe(audio, options()), 'model_unavailable', /corrupt or truncated/);
});

test('a model cut short in its weights is refused by whisper.cpp without crashing the process', async () => {
  const truncated = path.join(dir, 'truncated.bin');
  writeFileSync(truncated, readFileSync(modelPath).subarray(0, 2_500_000));
  const whisper = engine({ model: truncated });
  const before = calls.contexts;
  await expectEngineError(
    whisper.transcribe(audio, options()),
    'model_unavailable',
    /Failed to initialize whisper context.*corrupt or truncated/s,
  );
  assert.equal(calls.contexts, before + 1, 'whisper.cpp itself was asked to load it');
  // A failed load is not cached: fixing the file makes the next call work.
  writeFileSync(truncated, readFileSync(modelPath));
  const result = await whisper.transcribe(audio, options({ language: 'en' }));
  assertSegmentsSane(result.segments, DURATION);
});

/**
 * Puts a tiny model in MODELS_DIR under a registered name, with the record a successful download
 * leaves (so it is trusted without its SHA-1 matching the real model's).
 */
function installAs(name: string, source: string) {
  const registered = findModel(name)!;
  const modelsDir = config().modelsDir;
  mkdirSync(modelsDir, { recursive: true });
  const target = path.join(modelsDir, registered.file);
  writeFileSync(target, readFileSync(source));
  const info = statSync(target);
  writeFileSync(`${target}.sha1`, JSON.stringify({ sha1: registered.sha1, size: info.size, mtimeMs: info.mtimeMs }));
}

test('requests may name installed models; beyond maxLoadedModels the least recently used is unloaded', async () => {
  installAs('tiny', modelPath);
  installAs('tiny.en', englishModelPath);
  const twoAtOnce = engine({ model: 'tiny' });
  let before = calls.contexts;
  const named = await twoAtOnce.transcribe(audio, options({ language: 'en' }));
  assert.equal(named.model, 'tiny');
  assert.equal((await twoAtOnce.transcribe(audio, options({ model: 'tiny.en' }))).model, 'tiny.en');
  await twoAtOnce.transcribe(audio, options({ language: 'en' }));
  assert.equal(calls.contexts - before, 2, 'both stay loaded');

  const oneAtOnce = engine({ model: 'tiny' }, undefined, 1);
  before = calls.contexts;
  await oneAtOnce.transcribe(audio, options({ language: 'en' }));
  await oneAtOnce.transcribe(audio, options({ model: 'tiny.en' }));
  await oneAtOnce.transcribe(audio, options({ language: 'en' }));
  assert.equal(calls.contexts - before, 3, 'tiny was unloaded for tiny.en, then loaded again');
});

test('a named model that cannot be downloaded is model_unavailable with the download error', async () => {
  await expectEngineError(
    engine({ model: 'base.en' }).transcribe(audio, options()),
    'model_unavailable',
    /Could not download whisper model base\.en from http:\/\/127\.0\.0\.1:\d+\/ggml-base\.en\.bin: the server answered HTTP 404.*npm run models -- download base\.en/s,
  );
});

test('an unknown model name, or a file path in a request, is model_unavailable', async () => {
  await expectEngineError(engine().transcribe(audio, options({ model: 'huge-v9' })), 'model_unavailable', /tiny, .*large-v3-turbo/);
  await expectEngineError(engine().transcribe(audio, options({ model: '/etc/passwd' })), 'model_unavailable', /cannot name a model file/);
});

test('without the native package the engine is unavailable, naming the package to install', () => {
  const missing = (id: string) => {
    throw new Error(`Cannot find module '${id}'`);
  };
  assert.throws(
    () => loadWhisperNative('default', { require: missing }),
    (error: unknown) => {
      assert.ok(error instanceof EngineError);
      assert.equal(error.code, 'engine_unavailable');
      assert.equal(error.kind, 'permanent');
      assert.ok(error.message.includes(`npm install @fugood/node-whisper-${process.platform}-${process.arch}`), error.message);
      return true;
    },
  );

  const warnings: string[] = [];
  const cpuOnly = (id: string) => {
    if (id.endsWith('-cuda')) throw new Error(`Cannot find module '${id}'`);
    return { WhisperContext: class {} };
  };
  const loaded = loadWhisperNative('cuda', { require: cpuOnly, log: (_level, message) => warnings.push(message) });
  assert.equal(loaded.packageName, `@fugood/node-whisper-${process.platform}-${process.arch}`);
  assert.equal(loaded.gpu, false);
  assert.match(warnings.join('\n'), /WHISPER_VARIANT=cuda .* using the CPU build/);
});
