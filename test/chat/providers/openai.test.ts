import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { test } from 'node:test';
import { OpenAIChatProvider } from '../../../src/chat/providers/openai.js';
import type { CompletionRequest } from '../../../src/chat/providers/provider.js';
import { collect, json, signal, sse, startSse, within } from '../../helpers/fake-llm.js';
import { providerContractTests, withServer } from './provider-contract.js';

const KEY = 'sk-test-key';

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

providerContractTests({
  name: 'openai',
  provider,
  request,
  reply: completion,
  error: openaiError,
  streamReply: (res, deltas) => streamReply(res, deltas, [1, 1]),
  streamDelta: (res, text) => sse(res, null, chunk({ content: text })),
  rateLimited: ['Rate limit reached', 'rate_limit_exceeded'],
  serverError: ['The server had an error', 'server_error'],
  overloaded: { status: 503, error: ['Overloaded', 'server_error'] },
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
