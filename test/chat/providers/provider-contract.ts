/**
 * What every chat provider must do whatever its wire format: retry what is transient (honouring
 * Retry-After), give up on what is permanent, time out, and hang up when aborted. openai.test.ts
 * and anthropic.test.ts register these tests with their own API's replies.
 */
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { test } from 'node:test';
import { ProviderError, type ChatProvider, type CompletionRequest, type LlmProviderName, type StreamEvent } from '../../../src/chat/providers/provider.js';
import { withRetries, type RetryInfo } from '../../../src/chat/providers/retry.js';
import { collect, fakeServer, json, startSse, within, type FakeServer, type Handler } from '../../helpers/fake-llm.js';

/** Runs `run` against a fake answering with `handler`, closed afterwards whatever happens. */
export async function withServer(handler: Handler, run: (server: FakeServer) => Promise<void>) {
  const server = await fakeServer(handler);
  try {
    await run(server);
  } finally {
    await server.close();
  }
}

/** An error as the API reports it: its message and its type. */
type ApiError = readonly [message: string, type: string];

export interface ProviderUnderTest {
  name: LlmProviderName;
  provider(origin: string, overrides?: { apiKey?: string | null; timeoutMs?: number }): ChatProvider;
  request(overrides?: Partial<CompletionRequest>): CompletionRequest;
  /** A whole non-streamed answer of `content`. */
  reply(content: string): unknown;
  /** The API's error body. */
  error(message: string, type: string): unknown;
  /** Streams a whole answer of `deltas`. */
  streamReply(res: ServerResponse, deltas: string[]): void;
  /** Writes one streamed delta of `text` and nothing else. */
  streamDelta(res: ServerResponse, text: string): void;
  rateLimited: ApiError;
  serverError: ApiError;
  /** The status and error an overloaded provider answers with. */
  overloaded: { status: number; error: ApiError };
  /** Where set, a permanent error's message must not carry this bit of the raw error JSON. */
  rawErrorStart?: string;
}

export function providerContractTests(p: ProviderUnderTest): void {
  test('429 then success: retried once, honouring Retry-After', async () => {
    await withServer(
      (_req, res, index) =>
        index === 0 ? json(res, 429, p.error(...p.rateLimited), { 'retry-after': '1' }) : json(res, 200, p.reply('second time lucky')),
      async (server) => {
        const retries: RetryInfo[] = [];
        const wrapped = withRetries(p.provider(server.origin), { maxRetries: 2, baseMs: 1, onRetry: (info) => retries.push(info) });
        const started = Date.now();
        const result = await wrapped.complete(p.request());
        const elapsed = Date.now() - started;
        assert.equal(server.requests.length, 2);
        assert.equal(result.content, 'second time lucky');
        assert.equal(retries.length, 1);
        assert.equal(retries[0]!.delayMs, 1000);
        assert.equal(retries[0]!.error.status, 429);
        assert.equal(retries[0]!.error.code, 'llm_rate_limited');
        assert.ok(elapsed >= 950, `waited ${elapsed} ms for Retry-After: 1`);
      },
    );
  });

  test('500s until giving up: maxRetries 2 makes 3 requests, then a transient ProviderError', async () => {
    const [message] = p.serverError;
    await withServer(
      (_req, res) => json(res, 500, p.error(...p.serverError)),
      async (server) => {
        const wrapped = withRetries(p.provider(server.origin), { maxRetries: 2, baseMs: 5 });
        await assert.rejects(
          wrapped.complete(p.request()),
          (error: unknown) =>
            error instanceof ProviderError &&
            error.code === 'llm_unavailable' &&
            error.status === 500 &&
            error.provider === p.name &&
            error.message.includes(message),
        );
        assert.equal(server.requests.length, 3);
      },
    );
  });

  test(`an overloaded (${p.overloaded.status}) stream start is retried before any delta`, async () => {
    await withServer(
      (_req, res, index) => (index === 0 ? json(res, p.overloaded.status, p.error(...p.overloaded.error)) : p.streamReply(res, ['ok'])),
      async (server) => {
        const wrapped = withRetries(p.provider(server.origin), { maxRetries: 2, baseMs: 5 });
        const events = await collect(wrapped.stream(p.request()));
        assert.equal(server.requests.length, 2);
        assert.deepEqual(events.map((e) => e.type), ['delta', 'done']);
      },
    );
  });

  for (const [status, type] of [
    [400, 'invalid_request_error'],
    [401, 'authentication_error'],
  ] as const) {
    test(`${status} is permanent, carries the provider's message and is not retried`, async () => {
      await withServer(
        (_req, res) => json(res, status, p.error(`Nope: ${type}`, type)),
        async (server) => {
          const wrapped = withRetries(p.provider(server.origin), { maxRetries: 2, baseMs: 1 });
          await assert.rejects(
            wrapped.complete(p.request()),
            (error: unknown) =>
              error instanceof ProviderError &&
              error.code === 'llm_rejected' &&
              error.status === status &&
              error.message.includes(`Nope: ${type}`) &&
              (p.rawErrorStart === undefined || !error.message.includes(p.rawErrorStart)),
          );
          await assert.rejects(collect(wrapped.stream(p.request())), (error: unknown) => error instanceof ProviderError && error.code === 'llm_rejected');
          assert.equal(server.requests.length, 2, 'one request each for complete and stream');
        },
      );
    });
  }

  test('a provider that never answers times out (timeoutMs 300)', async () => {
    await withServer(
      () => {
        // Never answers.
      },
      async (server) => {
        const slow = p.provider(server.origin, { timeoutMs: 300 });
        const started = Date.now();
        await assert.rejects(slow.complete(p.request()), (error: unknown) => error instanceof ProviderError && error.code === 'llm_timeout');
        await assert.rejects(collect(slow.stream(p.request())), (error: unknown) => error instanceof ProviderError && error.code === 'llm_timeout');
        assert.ok(Date.now() - started < 3000);
      },
    );
  });

  test('a stream that stalls after its first delta times out instead of hanging', async () => {
    await withServer(
      (_req, res) => {
        startSse(res);
        p.streamDelta(res, 'Once');
        // …and nothing more.
      },
      async (server) => {
        const seen: StreamEvent[] = [];
        await assert.rejects(
          (async () => {
            for await (const event of p.provider(server.origin, { timeoutMs: 300 }).stream(p.request())) seen.push(event);
          })(),
          (error: unknown) => error instanceof ProviderError && error.code === 'llm_timeout',
        );
        assert.deepEqual(seen, [{ type: 'delta', text: 'Once' }]);
        await within(server.requests[0]!.closedEarly, 1000, 'the server seeing the connection close');
      },
    );
  });

  test('aborting mid-stream rejects with the abort reason and closes the connection', async () => {
    await withServer(
      (_req, res) => {
        startSse(res);
        p.streamDelta(res, 'First');
        // Holds the stream open.
      },
      async (server) => {
        const controller = new AbortController();
        const reason = new Error('user went away');
        const seen: StreamEvent[] = [];
        const wrapped = withRetries(p.provider(server.origin), { maxRetries: 2, baseMs: 1 });
        const consume = (async () => {
          for await (const event of wrapped.stream(p.request({ signal: controller.signal }))) {
            seen.push(event);
            controller.abort(reason);
          }
        })();
        await assert.rejects(within(consume, 2000, 'the stream ending'), (error: unknown) => error === reason);
        assert.deepEqual(seen, [{ type: 'delta', text: 'First' }]);
        await within(server.requests[0]!.closedEarly, 1000, 'the server seeing the connection close');
        assert.equal(server.requests.length, 1);
      },
    );
  });
}
