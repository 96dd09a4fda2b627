import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as AnthropicSdk from '@anthropic-ai/sdk';
import * as OpenAISdk from 'openai';
import type { LlmConfig } from '../../../src/config.js';
import { parseRetryAfter, toProviderError } from '../../../src/chat/providers/errors.js';
import { createChatProviders } from '../../../src/chat/providers/index.js';
// toProviderError knows an SDK's errors once its provider module has loaded (as it has whenever
// that SDK is in use); these tests map both SDKs' errors without calling either provider first.
import '../../../src/chat/providers/anthropic.js';
import '../../../src/chat/providers/openai.js';
import {
  ProviderError,
  type ChatProvider,
  type CompletionRequest,
  type CompletionResult,
  type StreamEvent,
} from '../../../src/chat/providers/provider.js';
import { withRetries, type RetryInfo } from '../../../src/chat/providers/retry.js';
import { collect, fakeServer, json, signal } from '../../helpers/fake-llm.js';

const transient = (retryAfterMs?: number) =>
  new ProviderError('busy', 'llm_overloaded', 'openai', 503, retryAfterMs === undefined ? undefined : { retryAfterMs });
const permanent = () => new ProviderError('bad', 'llm_rejected', 'openai', 400);
const OK: CompletionResult = { content: 'ok', usage: { inputTokens: 1, outputTokens: 1 }, model: 'm' };

function request(overrides: Partial<CompletionRequest> = {}): CompletionRequest {
  return { model: 'm', messages: [{ role: 'user', content: 'hi' }], signal: signal(), ...overrides };
}

/** A provider whose n-th call (from 0) does what `script[n]` says. */
function scripted(script: Array<'ok' | Error | { deltas: string[]; then?: Error }>) {
  let calls = 0;
  const provider: ChatProvider & { calls: () => number } = {
    name: 'openai',
    calls: () => calls,
    async complete() {
      const step = script[calls++];
      if (step instanceof Error) throw step;
      return OK;
    },
    async *stream(): AsyncGenerator<StreamEvent> {
      const step = script[calls++];
      if (step instanceof Error) throw step;
      if (step && step !== 'ok') {
        for (const text of step.deltas) yield { type: 'delta', text };
        if (step.then) throw step.then;
      }
      yield { type: 'done', usage: OK.usage, model: 'm' };
    },
  };
  return provider;
}

test('backoff doubles from baseMs, jittered by random()', async () => {
  const provider = scripted([transient(), transient(), transient(), 'ok']);
  const retries: RetryInfo[] = [];
  const wrapped = withRetries(provider, { maxRetries: 3, baseMs: 8, random: () => 1, onRetry: (i) => retries.push(i) });
  assert.deepEqual(await wrapped.complete(request()), OK);
  assert.deepEqual(
    retries.map((r) => [r.attempt, r.delayMs]),
    [
      [1, 8],
      [2, 16],
      [3, 32],
    ],
  );
  const low: RetryInfo[] = [];
  await withRetries(scripted([transient(), 'ok']), { maxRetries: 1, baseMs: 8, random: () => 0, onRetry: (i) => low.push(i) }).complete(
    request(),
  );
  assert.equal(low[0]!.delayMs, 4, 'jitter takes off at most half');
});

test('timeouts are retried; permanent errors and maxRetries 0 are not', async () => {
  const timedOut = new ProviderError('slow', 'llm_timeout', 'anthropic', null);
  const afterTimeout = scripted([timedOut, 'ok']);
  assert.deepEqual(await withRetries(afterTimeout, { maxRetries: 1, baseMs: 1 }).complete(request()), OK);
  assert.equal(afterTimeout.calls(), 2);

  const refused = scripted([permanent(), 'ok']);
  await assert.rejects(withRetries(refused, { maxRetries: 3, baseMs: 1 }).complete(request()), (e: unknown) => e instanceof ProviderError && e.code === 'llm_rejected');
  assert.equal(refused.calls(), 1);

  const noRetries = scripted([transient(), 'ok']);
  await assert.rejects(withRetries(noRetries, { maxRetries: 0, baseMs: 1 }).complete(request()));
  assert.equal(noRetries.calls(), 1);
});

test('a Retry-After longer than maxDelayMs goes to the caller instead of being waited for', async () => {
  const provider = scripted([transient(120_000), 'ok']);
  const started = Date.now();
  await assert.rejects(
    withRetries(provider, { maxRetries: 2, baseMs: 1 }).complete(request()),
    (e: unknown) => e instanceof ProviderError && e.retryAfterMs === 120_000,
  );
  assert.equal(provider.calls(), 1);
  assert.ok(Date.now() - started < 500);
});

test('aborting during the backoff stops at once with the abort reason', async () => {
  const provider = scripted([transient(), 'ok']);
  const controller = new AbortController();
  const reason = new Error('cancelled by user');
  const wrapped = withRetries(provider, { maxRetries: 2, baseMs: 10_000, onRetry: () => setTimeout(() => controller.abort(reason), 20) });
  const started = Date.now();
  await assert.rejects(wrapped.complete(request({ signal: controller.signal })), (e: unknown) => e === reason);
  assert.ok(Date.now() - started < 1000);
  assert.equal(provider.calls(), 1);

  const streamed = scripted([transient(), 'ok']);
  const controller2 = new AbortController();
  const wrapped2 = withRetries(streamed, { maxRetries: 2, baseMs: 10_000, onRetry: () => setTimeout(() => controller2.abort(reason), 20) });
  await assert.rejects(collect(wrapped2.stream(request({ signal: controller2.signal }))), (e: unknown) => e === reason);
  assert.equal(streamed.calls(), 1);
});

test('an already aborted signal never calls the provider', async () => {
  const provider = scripted(['ok']);
  const controller = new AbortController();
  controller.abort();
  const wrapped = withRetries(provider, { maxRetries: 2, baseMs: 1 });
  await assert.rejects(wrapped.complete(request({ signal: controller.signal })), (e: unknown) => e instanceof Error && e.name === 'AbortError');
  assert.equal(provider.calls(), 0);
});

test('a stream is retried while it has yielded nothing, never after a delta', async () => {
  const before = scripted([transient(), { deltas: ['a', 'b'] }]);
  const events = await collect(withRetries(before, { maxRetries: 2, baseMs: 1 }).stream(request()));
  assert.equal(before.calls(), 2);
  assert.deepEqual(events.map((e) => (e.type === 'delta' ? e.text : e.type)), ['a', 'b', 'done']);

  const after = scripted([{ deltas: ['a'], then: transient() }, { deltas: ['again'] }]);
  const seen: string[] = [];
  await assert.rejects(
    (async () => {
      for await (const event of withRetries(after, { maxRetries: 2, baseMs: 1 }).stream(request())) {
        if (event.type === 'delta') seen.push(event.text);
      }
    })(),
    (e: unknown) => e instanceof ProviderError && e.code === 'llm_overloaded',
  );
  assert.equal(after.calls(), 1);
  assert.deepEqual(seen, ['a']);
});

test('toProviderError maps both SDKs the same way', () => {
  const live = signal();
  const headers = new Headers({ 'retry-after': '3' });
  const cases: Array<[unknown, ProviderError['code'], number | null]> = [
    [new OpenAISdk.APIConnectionTimeoutError(), 'llm_timeout', null],
    [new AnthropicSdk.APIConnectionTimeoutError(), 'llm_timeout', null],
    [new OpenAISdk.APIConnectionError({ message: 'ECONNREFUSED' }), 'llm_unavailable', null],
    [new AnthropicSdk.APIConnectionError({ message: 'ECONNREFUSED' }), 'llm_unavailable', null],
    [OpenAISdk.APIError.generate(408, { error: { message: 'slow' } }, undefined, headers), 'llm_unavailable', 408],
    [OpenAISdk.APIError.generate(409, { error: { message: 'lock' } }, undefined, headers), 'llm_unavailable', 409],
    [AnthropicSdk.APIError.generate(429, { type: 'error', error: { message: 'slow down' } }, undefined, headers), 'llm_rate_limited', 429],
    [AnthropicSdk.APIError.generate(502, { type: 'error', error: { message: 'bad gateway' } }, undefined, headers), 'llm_unavailable', 502],
    [OpenAISdk.APIError.generate(503, { error: { message: 'busy' } }, undefined, headers), 'llm_overloaded', 503],
    [AnthropicSdk.APIError.generate(529, { type: 'error', error: { type: 'overloaded_error', message: 'busy' } }, undefined, headers), 'llm_overloaded', 529],
    [OpenAISdk.APIError.generate(404, { error: { message: 'no such model' } }, undefined, headers), 'llm_rejected', 404],
    [AnthropicSdk.APIError.generate(413, { type: 'error', error: { message: 'too long' } }, undefined, headers), 'llm_rejected', 413],
    [new TypeError('terminated'), 'llm_unavailable', null],
  ];
  for (const [error, code, status] of cases) {
    const mapped = toProviderError('openai', error, live);
    assert.ok(mapped instanceof ProviderError, String(error));
    assert.equal(mapped.code, code, String(error));
    assert.equal(mapped.retryable, code !== 'llm_rejected', String(error));
    assert.equal(mapped.status, status, String(error));
    assert.equal(mapped.cause, error);
  }
  const limited = toProviderError('anthropic', cases[6]![0], live);
  assert.ok(limited instanceof ProviderError);
  assert.equal(limited.retryAfterMs, 3000);
  assert.match(limited.message, /slow down/);
  assert.doesNotMatch(limited.message, /"type"/);
});

test('toProviderError returns the abort reason as-is for aborts', () => {
  const controller = new AbortController();
  const reason = new Error('stop');
  controller.abort(reason);
  assert.equal(toProviderError('openai', new OpenAISdk.APIUserAbortError(), controller.signal), reason);
  assert.equal(toProviderError('anthropic', new AnthropicSdk.APIConnectionError({ message: 'x' }), controller.signal), reason);
  const userAbort = new AnthropicSdk.APIUserAbortError();
  assert.equal(toProviderError('anthropic', userAbort, signal()), userAbort, 'not made into a ProviderError');
});

test('parseRetryAfter reads retry-after-ms, seconds and HTTP dates', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(parseRetryAfter(new Headers({ 'retry-after': '2' }), now), 2000);
  assert.equal(parseRetryAfter(new Headers({ 'retry-after': '0.5' }), now), 500);
  assert.equal(parseRetryAfter(new Headers({ 'retry-after-ms': '250', 'retry-after': '9' }), now), 250);
  assert.equal(parseRetryAfter(new Headers({ 'retry-after': 'Thu, 01 Jan 2026 00:00:04 GMT' }), now), 4000);
  assert.equal(parseRetryAfter(new Headers({ 'retry-after': 'soon' }), now), undefined);
  assert.equal(parseRetryAfter(new Headers(), now), undefined);
  assert.equal(parseRetryAfter(undefined, now), undefined);
});

function llm(overrides: Partial<LlmConfig> = {}): LlmConfig {
  return {
    provider: null,
    model: 'gpt-4o-mini',
    openai: { apiKey: null, baseUrl: null },
    anthropic: { apiKey: null, baseUrl: null },
    allowedModels: [],
    timeoutMs: 5_000,
    maxRetries: 1,
    retryBaseMs: 1,
    contextTokens: 12_000,
    maxOutputTokens: 1_024,
    dailyTokenLimit: 0,
    redactPii: 'cloud',
    ...overrides,
  };
}

test('createChatProviders: null without key or base URL; configured ones are built once', () => {
  const none = createChatProviders(llm());
  assert.equal(none('openai'), null);
  assert.equal(none('anthropic'), null);

  const both = createChatProviders(llm({ openai: { apiKey: 'sk-x', baseUrl: null }, anthropic: { apiKey: null, baseUrl: 'http://127.0.0.1:9' } }));
  assert.equal(both('openai')?.name, 'openai');
  assert.equal(both('anthropic')?.name, 'anthropic');
  assert.equal(both('openai'), both('openai'));
});

test('createChatProviders wires the config: base URL, key, and maxRetries', async () => {
  const server = await fakeServer((_req, res) => json(res, 500, { error: { message: 'down', type: 'server_error' } }));
  try {
    const retried: string[] = [];
    const lookup = createChatProviders(llm({ openai: { apiKey: 'sk-wired', baseUrl: `${server.origin}/v1` }, maxRetries: 1 }), {
      onRetry: (name, info) => retried.push(`${name}:${info.error.status}`),
    });
    await assert.rejects(lookup('openai')!.complete(request()), (e: unknown) => e instanceof ProviderError && e.status === 500);
    assert.equal(server.requests.length, 2);
    assert.equal(server.requests[0]!.url, '/v1/chat/completions');
    assert.equal(server.requests[0]!.headers.authorization, 'Bearer sk-wired');
    assert.deepEqual(retried, ['openai:500']);
  } finally {
    await server.close();
  }
});
