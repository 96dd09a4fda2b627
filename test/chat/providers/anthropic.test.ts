import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { test } from 'node:test';
import {
  AnthropicChatProvider,
  anthropicParams,
  DEFAULT_MAX_TOKENS,
  JSON_INSTRUCTION,
} from '../../../src/chat/providers/anthropic.js';
import { ProviderError, type CompletionRequest } from '../../../src/chat/providers/provider.js';
import { collect, json, signal, sse, startSse } from '../../helpers/fake-llm.js';
import { providerContractTests, withServer } from './provider-contract.js';

const KEY = 'sk-ant-test-key';
const MODEL = 'claude-3-5-haiku-latest';
const ANSWERED_BY = 'claude-3-5-haiku-20241022';

function provider(origin: string, overrides: { apiKey?: string | null; timeoutMs?: number } = {}) {
  return new AnthropicChatProvider({ apiKey: KEY, baseUrl: origin, timeoutMs: 5_000, ...overrides });
}

function request(overrides: Partial<CompletionRequest> = {}): CompletionRequest {
  return {
    model: MODEL,
    messages: [
      { role: 'system', content: 'You answer questions about a transcript.' },
      { role: 'system', content: 'Transcript: it rained all week.' },
      { role: 'user', content: 'What was said?' },
    ],
    maxTokens: 300,
    temperature: 0.3,
    signal: signal(),
    ...overrides,
  };
}

function message(text: string, usage = { input_tokens: 55, output_tokens: 9 }) {
  return {
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    model: ANSWERED_BY,
    content: [{ type: 'text', text }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage,
  };
}

const anthropicError = (message: string, type: string) => ({ type: 'error', error: { type, message } });

/** Anthropic's wire format: named events, usage split over message_start and message_delta. */
function streamReply(res: ServerResponse, deltas: string[], usage = { input: 80, output: 4 }) {
  startSse(res);
  sse(res, 'message_start', {
    type: 'message_start',
    message: {
      id: 'msg_2',
      type: 'message',
      role: 'assistant',
      model: ANSWERED_BY,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: usage.input, output_tokens: 1 },
    },
  });
  sse(res, 'content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
  sse(res, 'ping', { type: 'ping' });
  for (const text of deltas) {
    sse(res, 'content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } });
  }
  sse(res, 'content_block_stop', { type: 'content_block_stop', index: 0 });
  sse(res, 'message_delta', {
    type: 'message_delta',
    delta: { stop_reason: 'end_turn', stop_sequence: null },
    usage: { output_tokens: usage.output },
  });
  sse(res, 'message_stop', { type: 'message_stop' });
  res.end();
}

test('complete: system to `system`, turns to messages, content and usage mapped', async () => {
  await withServer(
    (_req, res) => json(res, 200, message('It rained all week.')),
    async (server) => {
      const result = await provider(server.origin).complete(request());
      const [req] = server.requests;
      assert.equal(server.requests.length, 1);
      assert.equal(req!.method, 'POST');
      assert.equal(req!.url, '/v1/messages');
      assert.equal(req!.headers.authorization, `Bearer ${KEY}`);
      assert.ok(req!.headers['anthropic-version'], 'sends an anthropic-version header');
      assert.equal(req!.body.model, MODEL);
      assert.equal(req!.body.system, 'You answer questions about a transcript.\n\nTranscript: it rained all week.');
      assert.deepEqual(req!.body.messages, [{ role: 'user', content: 'What was said?' }]);
      assert.equal(req!.body.max_tokens, 300);
      assert.equal(req!.body.temperature, 0.3);
      assert.equal(req!.body.stream, undefined);
      assert.deepEqual(result, {
        content: 'It rained all week.',
        usage: { inputTokens: 55, outputTokens: 9 },
        model: ANSWERED_BY,
      });
    },
  );
});

test('max_tokens defaults to 1024; consecutive same-role turns are merged', async () => {
  await withServer(
    (_req, res) => json(res, 200, message('ok')),
    async (server) => {
      await provider(server.origin).complete(
        request({
          maxTokens: undefined,
          temperature: undefined,
          messages: [
            { role: 'user', content: 'First.' },
            { role: 'user', content: 'Second.' },
            { role: 'assistant', content: 'Answer.' },
            { role: 'system', content: 'Late system note.' },
            { role: 'user', content: 'Third.' },
          ],
        }),
      );
      const body = server.requests[0]!.body;
      assert.equal(body.max_tokens, DEFAULT_MAX_TOKENS);
      assert.equal(body.temperature, undefined);
      assert.equal(body.system, 'Late system note.');
      assert.deepEqual(body.messages, [
        { role: 'user', content: 'First.\n\nSecond.' },
        { role: 'assistant', content: 'Answer.' },
        { role: 'user', content: 'Third.' },
      ]);
    },
  );
});

test('JSON mode: instruction in system, "{" prefilled, and prepended to the answer', async () => {
  await withServer(
    (_req, res) => json(res, 200, message('"topics": ["rain"]}')),
    async (server) => {
      const result = await provider(server.origin).complete(request({ json: true }));
      const body = server.requests[0]!.body;
      assert.ok(typeof body.system === 'string' && body.system.endsWith(JSON_INSTRUCTION));
      assert.deepEqual(body.messages?.at(-1), { role: 'assistant', content: '{' });
      assert.equal(result.content, '{"topics": ["rain"]}');
      assert.deepEqual(JSON.parse(result.content), { topics: ['rain'] });
    },
  );
});

test('JSON mode streamed: the prefill "{" leads the first delta', async () => {
  await withServer(
    (_req, res) => streamReply(res, ['"a"', ': 1}']),
    async (server) => {
      const events = await collect(provider(server.origin).stream(request({ json: true })));
      assert.deepEqual(server.requests[0]!.body.messages?.at(-1), { role: 'assistant', content: '{' });
      const text = events.map((e) => (e.type === 'delta' ? e.text : '')).join('');
      assert.deepEqual(events[0], { type: 'delta', text: '{"a"' });
      assert.deepEqual(JSON.parse(text), { a: 1 });
    },
  );
});

test('a keyless base URL sends no Authorization header', async () => {
  await withServer(
    (_req, res) => json(res, 200, message('ok')),
    async (server) => {
      await provider(server.origin, { apiKey: null }).complete(request());
      assert.equal(server.requests[0]!.headers.authorization, undefined);
      assert.equal(server.requests[0]!.headers['x-api-key'], undefined);
    },
  );
});

test('stream: named SSE events, deltas in order, usage from message_start and message_delta', async () => {
  await withServer(
    (_req, res) => streamReply(res, ['It ', 'rained', '.'], { input: 80, output: 4 }),
    async (server) => {
      const events = await collect(provider(server.origin).stream(request()));
      const [req] = server.requests;
      assert.equal(req!.url, '/v1/messages');
      assert.equal(req!.body.stream, true);
      assert.equal(req!.body.max_tokens, 300);
      assert.equal(req!.body.system, 'You answer questions about a transcript.\n\nTranscript: it rained all week.');
      assert.deepEqual(events, [
        { type: 'delta', text: 'It ' },
        { type: 'delta', text: 'rained' },
        { type: 'delta', text: '.' },
        { type: 'done', usage: { inputTokens: 80, outputTokens: 4 }, model: ANSWERED_BY },
      ]);
    },
  );
});

test('an overloaded `event: error` inside the stream is a retryable llm_overloaded', async () => {
  await withServer(
    (_req, res) => {
      startSse(res);
      sse(res, 'error', anthropicError('Overloaded', 'overloaded_error'));
      res.end();
    },
    async (server) => {
      await assert.rejects(
        collect(provider(server.origin).stream(request())),
        (error: unknown) =>
          error instanceof ProviderError && error.code === 'llm_overloaded' && error.retryable && error.message.includes('Overloaded'),
      );
    },
  );
});

providerContractTests({
  name: 'anthropic',
  provider,
  request,
  reply: message,
  error: anthropicError,
  streamReply,
  streamDelta: (res, text) => sse(res, 'content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } }),
  rateLimited: ['Number of requests has exceeded your rate limit', 'rate_limit_error'],
  serverError: ['Internal server error', 'api_error'],
  overloaded: { status: 529, error: ['Overloaded', 'overloaded_error'] },
  rawErrorStart: '{"type"',
});

test('anthropicParams: a JSON request whose last turn is the assistant continues that turn', () => {
  const params = anthropicParams({
    model: MODEL,
    json: true,
    messages: [
      { role: 'user', content: 'Q' },
      { role: 'assistant', content: 'Here it is:' },
    ],
    signal: signal(),
  });
  assert.deepEqual(params.messages, [
    { role: 'user', content: 'Q' },
    { role: 'assistant', content: 'Here it is:\n{' },
  ]);
  assert.equal(params.system, JSON_INSTRUCTION);
});
