import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { JobRegistry } from '../../src/jobs/registry.js';
import { succeed, TestHandler } from './inline-queue-fixture.js';

describe('JobRegistry', () => {
  test('serves the handler of each type', () => {
    const handler = new TestHandler(async (ctx) => succeed(ctx));
    const registry = new JobRegistry([handler], ['transcription']);
    assert.equal(registry.get('transcription'), handler);
    assert.equal(registry.get('mystery'), undefined);
    assert.deepEqual(registry.types(), ['transcription']);
  });

  test('refuses a job type without a handler, naming it', () => {
    assert.throws(() => new JobRegistry([]), /job type "transcription" has no handler/);
    const handler = new TestHandler(async (ctx) => succeed(ctx));
    assert.throws(() => new JobRegistry([handler]), /job type "chat_completion" has no handler/, 'every JOB_TYPES entry is required by default');
  });

  test('refuses two handlers for one type', () => {
    const one = new TestHandler(async (ctx) => succeed(ctx));
    const two = new TestHandler(async (ctx) => succeed(ctx));
    assert.throws(() => new JobRegistry([one, two], ['transcription']), /job type "transcription" has two handlers/);
  });
});
