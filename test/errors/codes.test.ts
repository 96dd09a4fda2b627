/**
 * The one list of error codes (src/http/errors.ts): well formed, complete for what the source
 * emits, and what job failures, the OpenAI route and the README read from.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { AudioDecodeError } from '../../src/audio/decode.js';
import { ProviderError } from '../../src/chat/providers/provider.js';
import { AppError, ERROR_STATUS, ERRORS, isErrorCode, type ErrorCode, type ErrorSpec } from '../../src/http/errors.js';
import { classifyFailure } from '../../src/jobs/failures.js';
import { PermanentJobError } from '../../src/jobs/types.js';
import { failedJobError } from '../../src/openai-compat/errors.js';
import { EngineError } from '../../src/transcription/engines/engine.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const entries = Object.entries(ERRORS) as Array<[ErrorCode, ErrorSpec]>;

async function sourceFiles(dir: string): Promise<string[]> {
  const files = await readdir(dir, { recursive: true, withFileTypes: true });
  return files.filter((f) => f.isFile() && f.name.endsWith('.ts')).map((f) => path.join(f.parentPath, f.name));
}

test('every code has a 4xx or 5xx status, says whether it is permanent, and suggests waits only for 429 and 503', () => {
  assert.ok(entries.length > 40);
  for (const [code, spec] of entries) {
    assert.match(code, /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/);
    assert.ok(Number.isInteger(spec.status) && spec.status >= 400 && spec.status <= 599, code);
    assert.equal(typeof spec.permanent, 'boolean', code);
    // A request that is wrong stays wrong when it is sent again; only "too many" passes with time.
    if (spec.status < 500 && spec.status !== 429) assert.equal(spec.permanent, true, `${code} is a client error`);
    if (spec.retryAfter !== undefined) {
      assert.ok(Number.isInteger(spec.retryAfter) && spec.retryAfter > 0, code);
      assert.ok(spec.status === 429 || spec.status === 503, `${code}: Retry-After belongs to 429 and 503`);
      assert.equal(spec.permanent, false, `${code}: a wait cannot fix a permanent failure`);
    }
    assert.equal(ERROR_STATUS[code], spec.status, code);
  }
});

test('every code the source writes as a string literal is in the list', async () => {
  // The typed places (AppError, EngineError, ProviderError, PermanentJobError, sendProblem,
  // Failure) are checked by the compiler; these are the spots where a code is a plain string:
  // job settlements in the runner, SSE error events, direct error_code writes.
  const patterns = [/\bcode:\s*'([a-z][a-z0-9_]*)'/g, /\berror_?[cC]ode\s*[:=]\s*'([a-z][a-z0-9_]*)'/g, /\bnew AppError\(\s*'([a-z][a-z0-9_]*)'/g];
  const found = new Map<string, string>();
  for (const file of await sourceFiles(path.join(ROOT, 'src'))) {
    const text = await readFile(file, 'utf8');
    for (const pattern of patterns) {
      for (const match of text.matchAll(pattern)) found.set(match[1]!, path.relative(ROOT, file));
    }
  }
  // The scan must see the runner's own codes, or it is not looking where it should.
  for (const code of ['job_timeout', 'worker_lost', 'internal_error']) assert.ok(found.has(code), `the scan missed ${code}`);
  const unknown = [...found].filter(([code]) => !isErrorCode(code)).map(([code, file]) => `${code} (${file})`);
  assert.deepEqual(unknown, [], 'codes missing from src/http/errors.ts');
});

test('classifyFailure names every failure with a listed code, permanent exactly as the list says', () => {
  const cases: Array<[unknown, ErrorCode]> = [
    [new PermanentJobError('no such transcription', 'invalid_payload'), 'invalid_payload'],
    [new EngineError('English only', 'language_not_supported'), 'language_not_supported'],
    [new EngineError('whisper.cpp could not load the audio', 'audio_undecodable'), 'audio_undecodable'],
    [new EngineError('speech API 429', 'provider_rate_limited'), 'provider_rate_limited'],
    [new EngineError('speech API 500', 'provider_unavailable'), 'provider_unavailable'],
    [new ProviderError('busy', 'llm_overloaded', 'anthropic', 529), 'llm_overloaded'],
    [new ProviderError('bad key', 'llm_rejected', 'openai', 401), 'llm_rejected'],
    [new AppError('llm_quota_exceeded', 'spent'), 'llm_quota_exceeded'],
    [new AppError('llm_not_configured', 'no provider'), 'llm_not_configured'],
    [new AppError('storage_unavailable', 'storage down'), 'storage_unavailable'],
    [new AudioDecodeError('Invalid data found'), 'audio_undecodable'],
    [new Error('something odd'), 'internal_error'],
  ];
  for (const [error, code] of cases) {
    const failure = classifyFailure(error);
    assert.equal(failure.code, code, String(error));
    assert.equal(failure.permanent, ERRORS[code].permanent, code);
  }
  // What used to be decided elsewhere: these retry, those fail at once.
  assert.equal(classifyFailure(new AppError('storage_unavailable', 'down')).permanent, false);
  assert.equal(classifyFailure(new EngineError('no such model', 'model_unavailable')).permanent, true);
  assert.equal(new EngineError('429', 'provider_rate_limited').kind, 'transient');
});

test('AppError takes its status and suggested Retry-After from the list; a named wait wins', () => {
  assert.equal(new AppError('job_timeout', 'too long').status, 504);
  assert.equal(new AppError('storage_unavailable', 'down').headers?.['retry-after'], String(ERRORS.storage_unavailable.retryAfter));
  assert.equal(new AppError('llm_rate_limited', 'slow', undefined, { 'retry-after': '42' }).headers?.['retry-after'], '42');
  assert.equal(new AppError('not_found', 'gone').headers, undefined);
});

test('a failed job on /v1 answers with its code’s status: job_timeout 504, not 400', () => {
  const expected: Array<[string | null, ErrorCode, number]> = [
    ['job_timeout', 'job_timeout', 504],
    ['provider_unavailable', 'provider_unavailable', 502],
    ['provider_overloaded', 'provider_overloaded', 503],
    ['audio_undecodable', 'audio_undecodable', 422],
    ['worker_lost', 'worker_lost', 500],
    // A code written before the list existed (or none) is our failure, not the client's.
    ['llm_transient', 'internal_error', 500],
    [null, 'internal_error', 500],
  ];
  for (const [stored, code, status] of expected) {
    const error = failedJobError(stored, 'it failed');
    assert.equal(error.code, code, String(stored));
    assert.equal(error.status, status, String(stored));
  }
  assert.ok(Number(failedJobError('provider_rate_limited', null).headers?.['retry-after']) > 0);
});

test('the README documents every code with its status and permanence', async () => {
  const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
  const rows = new Map<string, { status: number; permanent: boolean }>();
  for (const match of readme.matchAll(/^\| `([a-z_0-9]+)` \| (\d{3}) \| (yes|no) \|/gm)) {
    rows.set(match[1]!, { status: Number(match[2]), permanent: match[3] === 'yes' });
  }
  for (const [code, spec] of entries) {
    assert.deepEqual(rows.get(code), { status: spec.status, permanent: spec.permanent }, `README row for ${code}`);
  }
  assert.deepEqual([...rows.keys()].filter((code) => !isErrorCode(code)), [], 'README rows for codes that do not exist');
});
