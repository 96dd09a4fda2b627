import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { test } from 'node:test';
import { OpenAIChatProvider } from '../../../src/chat/providers/openai.js';
import { ProviderError, type CompletionRequest, type StreamEvent } from '../../../src/chat/providers/provider.js';
import { withRetries, type RetryInfo } from '../../../src/chat/providers/retry.js';
import { collect, fakeServer, json, signal, sse, startSse, within, type Handler } from '../../helpers/fake-llm.js';

const KEY = 'sk-test-key';

async function withServer(handler: Handler, run: (server: Awaited<ReturnType<typeof fakeServer>>) => Promise<void>) {
  const server = await fakeServer(handler);
  try {
    await run(server);
  } finally {
    await server.close();
  }
}

function provider(origin: string, overrides: { apiKey?: string | null; timeoutMs?: number } = {}) {
  return new OpenAIChatProvider({ apiKey: KEY, baseUrl: `${origin}/v1`, timeoutMs: 5_000, ...overrides });
}

function request(overrides: Partial<CompletionRequest> = {}): CompletionRequest {
  return {
    model: 'gpt-4o-mini',
    messages: [
      { role: 'system', content: 'You answer questions about a transcript.' },
      { role: 'user', content: 'What was said?' },
    ],
    maxTokens: 200,
    temperature: 0.2,
    signal: signal(),
    ...overrides,
  };
}

function completion(content: string, usage = { prompt_tokens: 42, completion_tokens: 7 }) {
  return {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1_700_000_000,
    model: 'gpt-4o-mini-2024-07-18',
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop', logprobs: null }],
    usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
  };
}

function chunk(delta: { role?: string; content?: string }, finish: string | null = null) {
  return {
    id: 'chatcmpl-2',
    object: 'chat.completion.chunk',
    created: 1_700_000_000,
    model: 'gpt-4o-mini-2024-07-18',
    choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
  };
}

function usageChunk(prompt: number, completion: number) {
  return {
    id: 'chatcmpl-2',
    object: 'chat.completion.chunk',
    created: 1_700_000_000,
    model: 'gpt-4o-mini-2024-07-18',
    choices: [],
    usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
  };
}

function streamReply(res: ServerResponse, deltas: string[], usage: [number, number] | null) {
  startSse(res);
  sse(res, null, chunk({ role: 'assistant', content: '' }));
  for (const text of deltas) sse(res, null, chunk({ content: text }));
  sse(res, null, chunk({}, 'stop'));
  if (usage) sse(res, null, usageChunk(...usage));
  sse(res, null, '[DONE]');
  res.end();
}

const openaiError = (message: string, type: string) => ({ error: { message, type, param: null, code: null } });

test('complete: sends the chat completion request and maps content and usage', async () => {
  await withServer(
    (_req, res) => json(res, 200, completion('They talked about the weather.')),
    async (server) => {
      const result = await provider(server.origin).complete(request());
      const [req] = server.requests;
      assert.equal(server.requests.length, 1);
      assert.equal(req!.method, 'POST');
      assert.equal(req!.url, '/v1/chat/completions');
      assert.equal(req!.headers.authorization, `Bearer ${KEY}`);
      assert.equal(req!.body.model, 'gpt-4o-mini');
      assert.deepEqual(req!.body.messages, [
        { role: 'system', content: 'You answer questions about a transcript.' },
        { role: 'user', content: 'What was said?' },
      ]);
      assert.equal(req!.body.max_tokens, 200);
      assert.equal(req!.body.temperature, 0.2);
      assert.equal(req!.body.stream, undefined);
      assert.equal(req!.body.response_format, undefined);
      assert.deepEqual(result, {
        content: 'They talked about the weather.',
        usage: { inputTokens: 42, outputTokens: 7 },
        model: 'gpt-4o-mini-2024-07-18',
      });
    },
  );
});

test('complete in JSON mode asks for response_format json_object; the answer parses', async () => {
  await withServer(
    (_req, res) => json(res, 200, completion('{"topics":["weather","travel"]}')),
    async (server) => {
      const result = await provider(server.origin).complete(request({ json: true, maxTokens: undefined, temperature: undefined }));
      const body = server.requests[0]!.body;
      assert.deepEqual(body.response_format, { type: 'json_object' });
      assert.equal(body.max_tokens, undefined, 'no max_tokens when the request names none');
      assert.equal(body.temperature, undefined);
      assert.deepEqual(JSON.parse(result.content), { topics: ['weather', 'travel'] });
    },
  );
});

test('a keyless base URL sends no Authorization header', async () => {
  await withServer(
    (_req, res) => json(res, 200, completion('ok')),
    async (server) => {
      await provider(server.origin, { apiKey: null }).complete(request());
      assert.equal(server.requests[0]!.headers.authorization, undefined);
    },
  );
});

test('stream: real SSE deltas in order, then done with the usage of the final chunk', async () => {
  await withServer(
    (_req, res) => streamReply(res, ['The ', 'weather', ', mostly.'], [120, 3]),
    async (server) => {
      const events = await collect(provider(server.origin).stream(request()));
      const body = server.requests[0]!.body;
      assert.equal(server.requests[0]!.url, '/v1/chat/completions');
      assert.equal(body.stream, true);
      assert.deepEqual(body.stream_options, { include_usage: true });
      assert.equal(body.model, 'gpt-4o-mini');
      assert.deepEqual(events, [
        { type: 'delta', text: 'The ' },
        { type: 'delta', text: 'weather' },
        { type: 'delta', text: ', mostly.' },
        { type: 'done', usage: { inputTokens: 120, outputTokens: 3 }, model: 'gpt-4o-mini-2024-07-18' },
      ]);
    },
  );
});

test('stream: a server that sends no usage still ends with done (0/0)', async () => {
  await withServer(
    (_req, res) => streamReply(res, ['Hi'], null),
    async (server) => {
      const events = await collect(provider(server.origin).stream(request()));
      assert.deepEqual(events, [
        { type: 'delta', text: 'Hi' },
        { type: 'done', usage: { inputTokens: 0, outputTokens: 0 }, model: 'gpt-4o-mini-2024-07-18' },
      ]);
    },
  );
});

test('429 then success: retried once, honouring Retry-After', async () => {
  await withServer(
    (_req, res, index) =>
      index === 0
        ? json(res, 429, openaiError('Rate limit reached', 'rate_limit_exceeded'), { 'retry-after': '1' })
        : json(res, 200, completion('second time lucky')),
    async (server) => {
      const retries: RetryInfo[] = [];
      const wrapped = withRetries(provider(server.origin), { maxRetries: 2, baseMs: 1, onRetry: (info) => retries.push(info) });
      const started = Date.now();
      const result = await wrapped.complete(request());
      const elapsed = Date.now() - started;
      assert.equal(server.requests.length, 2);
      assert.equal(result.content, 'second time lucky');
      assert.equal(retries.length, 1);
      assert.equal(retries[0]!.delayMs, 1000);
      assert.equal(retries[0]!.error.code, 'llm_rate_limited');
      assert.equal(retries[0]!.error.status, 429);
      assert.ok(elapsed >= 950, `waited ${elapsed} ms for Retry-After: 1`);
    },
  );
});

test('500s until giving up: maxRetries 2 makes 3 requests, then a transient ProviderError', async () => {
  await withServer(
    (_req, res) => json(res, 500, openaiError('The server had an error', 'server_error')),
    async (server) => {
      const wrapped = withRetries(provider(server.origin), { maxRetries: 2, baseMs: 5 });
      await assert.rejects(
        wrapped.complete(request()),
        (error: unknown) =>
          error instanceof ProviderError &&
          error.code === 'llm_unavailable' &&
          error.status === 500 &&
          error.provider === 'openai' &&
          error.message.includes('The server had an error'),
      );
      assert.equal(server.requests.length, 3);
    },
  );
});

test('a stream whose first response is a 503 is retried before any delta', async () => {
  await withServer(
    (_req, res, index) =>
      index === 0 ? json(res, 503, openaiError('Overloaded', 'server_error')) : streamReply(res, ['ok'], [1, 1]),
    async (server) => {
      const wrapped = withRetries(provider(server.origin), { maxRetries: 2, baseMs: 5 });
      const events = await collect(wrapped.stream(request()));
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
      (_req, res) => json(res, status, openaiError(`Nope: ${type}`, type)),
      async (server) => {
        const wrapped = withRetries(provider(server.origin), { maxRetries: 2, baseMs: 1 });
        await assert.rejects(
          wrapped.complete(request()),
          (error: unknown) =>
            error instanceof ProviderError &&
            error.code === 'llm_rejected' &&
            error.status === status &&
            error.message.includes(`Nope: ${type}`),
        );
        await assert.rejects(collect(wrapped.stream(request())), (error: unknown) => error instanceof ProviderError && error.code === 'llm_rejected');
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
      const slow = provider(server.origin, { timeoutMs: 300 });
      const started = Date.now();
      await assert.rejects(slow.complete(request()), (error: unknown) => error instanceof ProviderError && error.code === 'llm_timeout');
      await assert.rejects(collect(slow.stream(request())), (error: unknown) => error instanceof ProviderError && error.code === 'llm_timeout');
      assert.ok(Date.now() - started < 3000);
    },
  );
});

test('a stream that stalls after its first delta times out instead of hanging', async () => {
  await withServer(
    (_req, res) => {
      startSse(res);
      sse(res, null, chunk({ content: 'Once' }));
      // …and nothing more.
    },
    async (server) => {
      const seen: StreamEvent[] = [];
      await assert.rejects(
        (async () => {
          for await (const event of provider(server.origin, { timeoutMs: 300 }).stream(request())) seen.push(event);
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
      sse(res, null, chunk({ content: 'First' }));
      // Holds the stream open.
    },
    async (server) => {
      const controller = new AbortController();
      const reason = new Error('user went away');
      const seen: StreamEvent[] = [];
      const wrapped = withRetries(provider(server.origin), { maxRetries: 2, baseMs: 1 });
      const consume = (async () => {
        for await (const event of wrapped.stream(request({ signal: controller.signal }))) {
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

test('aborting while waiting for the response rejects with the abort reason', async () => {
  await withServer(
    () => {
      // Never answers.
    },
    async (server) => {
      const controller = new AbortController();
      const run = provider(server.origin).complete(request({ signal: controller.signal }));
      await server.received(1);
      controller.abort();
      await assert.rejects(run, (error: unknown) => error instanceof Error && error.name === 'AbortError');
      await within(server.requests[0]!.closedEarly, 1000, 'the server seeing the connection close');
    },
  );
});
