/* How OpenAIEngine fails: provider errors, timeouts, an unreachable provider, aborts and missing configuration. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EngineError } from '../../../src/transcription/engines/engine.js';
import { OpenAIEngine } from '../../../src/transcription/engines/openai.js';
import { fakeSpeech } from '../../helpers/fake-speech.js';
import { config, json, RATE, signal, writeAudio } from './openai-fixture.js';

test('429 and 5xx are transient, keeping their meaning', async () => {
  for (const [status, code] of [[429, 'provider_rate_limited'], [500, 'provider_unavailable'], [503, 'provider_overloaded']] as const) {
    const server = await fakeSpeech((_req, res) =>
      json(res, status, { error: { message: 'Slow down', type: 'rate_limit_exceeded', param: null, code: null } }),
    );
    try {
      const audio = writeAudio('busy.wav', new Int16Array(RATE));
      const engine = new OpenAIEngine(config({ baseUrl: server.baseUrl }));
      await assert.rejects(
        engine.transcribe(audio, { wordTimestamps: true, signal: signal() }),
        (error: unknown) =>
          error instanceof EngineError && error.kind === 'transient' && error.code === code,
      );
      assert.equal(server.requests.length, 1, 'no SDK retries');
    } finally {
      await server.close();
    }
  }
});

test('400 is permanent and carries the provider message', async () => {
  const server = await fakeSpeech((_req, res) =>
    json(res, 400, {
      error: { message: 'Invalid file format. Supported formats: flac, mp3, wav', type: 'invalid_request_error', param: 'file', code: null },
    }),
  );
  try {
    const audio = writeAudio('bad.wav', new Int16Array(RATE));
    const engine = new OpenAIEngine(config({ baseUrl: server.baseUrl }));
    await assert.rejects(
      engine.transcribe(audio, { wordTimestamps: true, signal: signal() }),
      (error: unknown) =>
        error instanceof EngineError &&
        error.kind === 'permanent' &&
        error.code === 'provider_rejected' &&
        error.message.includes('Invalid file format. Supported formats: flac, mp3, wav'),
    );
  } finally {
    await server.close();
  }
});

test('a provider that never answers times out as transient', async () => {
  const server = await fakeSpeech(() => {
    // Never answers.
  });
  try {
    const audio = writeAudio('silent-server.wav', new Int16Array(RATE));
    const engine = new OpenAIEngine(config({ baseUrl: server.baseUrl, timeoutMs: 300 }));
    const started = Date.now();
    await assert.rejects(
      engine.transcribe(audio, { wordTimestamps: true, signal: signal() }),
      (error: unknown) =>
        error instanceof EngineError && error.kind === 'transient' && error.code === 'provider_timeout',
    );
    assert.ok(Date.now() - started < 5000);
  } finally {
    await server.close();
  }
});

test('an unreachable provider is transient', async () => {
  const server = await fakeSpeech(() => undefined);
  const baseUrl = server.baseUrl;
  await server.close();
  const audio = writeAudio('unreachable.wav', new Int16Array(RATE));
  const engine = new OpenAIEngine(config({ baseUrl }));
  await assert.rejects(
    engine.transcribe(audio, { wordTimestamps: true, signal: signal() }),
    (error: unknown) => error instanceof EngineError && error.kind === 'transient' && error.code === 'provider_unavailable',
  );
});

test('aborting mid-request rejects with an AbortError', async () => {
  const server = await fakeSpeech(() => {
    // Holds the request open.
  });
  try {
    const audio = writeAudio('abort.wav', new Int16Array(RATE));
    const engine = new OpenAIEngine(config({ baseUrl: server.baseUrl }));
    const controller = new AbortController();
    const run = engine.transcribe(audio, { wordTimestamps: true, signal: controller.signal });
    await server.received(1);
    controller.abort();
    await assert.rejects(run, (error: unknown) => error instanceof Error && error.name === 'AbortError');
  } finally {
    await server.close();
  }
});

test('no key and no base URL is engine_not_configured', async () => {
  const engine = new OpenAIEngine(config({ apiKey: null, baseUrl: null }));
  await assert.rejects(
    engine.transcribe({ wavPath: '/nonexistent.wav', durationSeconds: 1 }, { wordTimestamps: true, signal: signal() }),
    (error: unknown) =>
      error instanceof EngineError &&
      error.kind === 'permanent' &&
      error.code === 'engine_not_configured' &&
      ['STT_API_KEY', 'OPENAI_API_KEY', 'STT_BASE_URL'].every((name) => error.message.includes(name)),
  );
});
