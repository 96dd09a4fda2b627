/* Cancelling a transcription: before it starts, while whisper.cpp runs, and while it waits its turn. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertSegmentsSane, audio, calls, DURATION, engine, options } from './engine-fixture.js';

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
