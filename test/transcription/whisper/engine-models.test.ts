/* Which models load: missing, corrupt and truncated files, named and downloaded models, the native package. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { EngineError } from '../../../src/transcription/engines/engine.js';
import { loadWhisperNative } from '../../../src/transcription/engines/whisper-native.js';
import { findModel } from '../../../src/transcription/models/registry.js';
import {
  assertSegmentsSane,
  audio,
  calls,
  config,
  dir,
  DURATION,
  engine,
  englishModelPath,
  expectEngineError,
  modelPath,
  options,
} from './engine-fixture.js';

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
