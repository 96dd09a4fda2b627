import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { MODEL_NAMES, MODELS, resolveModel, UnknownModelError } from '../../../src/transcription/models/registry.js';

test('every registered model has a ggml file name, a SHA-1 and a size', () => {
  for (const name of ['tiny', 'tiny.en', 'base', 'base.en', 'small', 'small.en', 'medium', 'medium.en', 'large-v1', 'large-v2', 'large-v3', 'large-v3-turbo']) {
    assert.ok(MODEL_NAMES.includes(name), name);
  }
  assert.equal(new Set(MODEL_NAMES).size, MODELS.length);
  assert.equal(new Set(MODELS.map((m) => m.sha1)).size, MODELS.length, 'checksums are distinct');
  for (const model of MODELS) {
    assert.equal(model.file, `ggml-${model.name}.bin`);
    assert.match(model.sha1, /^[0-9a-f]{40}$/);
    assert.ok(model.approxMiB > 10);
    assert.equal(model.englishOnly, model.name.includes('.en'));
  }
});

test('resolveModel: names, paths, and a clear error for anything else', () => {
  assert.deepEqual(resolveModel('base.en'), {
    kind: 'named',
    name: 'base.en',
    file: 'ggml-base.en.bin',
    sha1: '137c40403d78fd54d454da0f9bd998f78703390c',
    approxMiB: 142,
    englishOnly: true,
  });
  assert.equal(resolveModel('Large-V3-Turbo').name, 'large-v3-turbo');
  assert.deepEqual(resolveModel('/models/custom.bin'), { kind: 'path', path: '/models/custom.bin', name: 'custom.bin' });
  assert.deepEqual(resolveModel('my-model.bin'), { kind: 'path', path: path.resolve('my-model.bin'), name: 'my-model.bin' });
  assert.throws(
    () => resolveModel('huge'),
    (error: unknown) => error instanceof UnknownModelError && /"huge".*tiny, tiny-q5_1.*large-v3-turbo-q8_0/s.test(error.message),
  );
  assert.throws(() => resolveModel(''), UnknownModelError);
});
