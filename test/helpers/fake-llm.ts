/** Fake OpenAI / Anthropic servers on 127.0.0.1 that record what the SDKs send them. */

import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { recordingServer, type RecordedRequest, type RecordingServer, type RequestHandler } from './fake-server.js';

/** The JSON fields either API's request may carry. */
export interface RequestBody {
  model?: string;
  messages?: Array<{ role: string; content: unknown }>;
  system?: unknown;
  max_tokens?: number;
  temperature?: number;
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  response_format?: { type: string };
}

export interface Received extends RecordedRequest {
  body: RequestBody;
}

export type Handler = RequestHandler<Received>;

/** `origin` is http://127.0.0.1:port — add /v1 for the OpenAI SDK, not for Anthropic's. */
export type FakeServer = RecordingServer<Received>;

function jsonBody(raw: Buffer): { body: RequestBody } {
  const text = raw.toString('utf8');
  try {
    return { body: (text === '' ? {} : JSON.parse(text)) as RequestBody };
  } catch {
    // Not JSON: the tests' checks of fields will fail on their own.
    return { body: {} };
  }
}

export function fakeServer(handler: Handler): Promise<FakeServer> {
  return recordingServer(jsonBody, handler);
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

export function startSse(res: ServerResponse) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.flushHeaders();
}

/** One SSE event; `event` null writes a bare `data:` line (OpenAI's style). */
export function sse(res: ServerResponse, event: string | null, data: unknown) {
  const payload = typeof data === 'string' ? data : JSON.stringify(data);
  res.write(`${event ? `event: ${event}\n` : ''}data: ${payload}\n\n`);
}

/** An OpenAI chat.completion from model gpt-test answering `content`. */
export function openaiCompletion(content: string, usage = { prompt_tokens: 30, completion_tokens: 12 }, finishReason = 'stop') {
  return {
    id: 'c',
    object: 'chat.completion',
    created: 0,
    model: 'gpt-test',
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: finishReason }],
    usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
  };
}

/** One OpenAI chat.completion.chunk from model gpt-test. */
export function openaiChunk(delta: { role?: string; content?: string }, finishReason: string | null = null) {
  return { id: 'c', object: 'chat.completion.chunk', created: 0, model: 'gpt-test', choices: [{ index: 0, delta, finish_reason: finishReason }] };
}

/** Ends an OpenAI stream as the API does: a stop chunk, a chunk with the usage, then [DONE]. */
export function endOpenaiStream(res: ServerResponse, usage: { prompt_tokens: number; completion_tokens: number }): void {
  sse(res, null, openaiChunk({}, 'stop'));
  sse(res, null, {
    id: 'c',
    object: 'chat.completion.chunk',
    created: 0,
    model: 'gpt-test',
    choices: [],
    usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
  });
  sse(res, null, '[DONE]');
  res.end();
}

/** Streams the words w0, w1, … one every `everyMs`, `count` at most: stops early once the client hangs up. */
export async function slowOpenaiStream(res: ServerResponse, count: number, everyMs: number): Promise<void> {
  startSse(res);
  for (let i = 0; i < count && !res.destroyed; i++) {
    sse(res, null, openaiChunk({ content: `w${i} ` }));
    await sleep(everyMs);
  }
  res.end();
}

/** An Anthropic message from model claude-test answering `text`. */
export function anthropicMessage(text: string) {
  return {
    id: 'msg',
    type: 'message',
    role: 'assistant',
    model: 'claude-test',
    content: [{ type: 'text', text }],
    stop_reason: 'end_turn',
    usage: { input_tokens: 20, output_tokens: 8 },
  };
}

/**
 * The app's settings that send its chat to `openai` (model gpt-test) and, where given, let it ask
 * `anthropic` for model claude-test too.
 */
export function fakeLlmEnv(openai: FakeServer, anthropic?: FakeServer): Record<string, string> {
  return {
    OPENAI_BASE_URL: `${openai.origin}/v1`,
    OPENAI_API_KEY: 'sk-test',
    LLM_MODEL: 'gpt-test',
    ...(anthropic && { ANTHROPIC_BASE_URL: anthropic.origin, ANTHROPIC_API_KEY: 'sk-ant-test', LLM_ALLOWED_MODELS: 'anthropic:claude-test' }),
  };
}

/** Rejects if `promise` has not settled within `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export function signal(): AbortSignal {
  return new AbortController().signal;
}

/** Collects a whole stream. */
export async function collect<T>(events: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const event of events) out.push(event);
  return out;
}

/** An OpenAI-compatible provider that sends one token, then holds the answer open until hung up on. */
export function stallingLlm(): Promise<FakeServer> {
  return fakeServer((_request, res) => {
    startSse(res);
    sse(res, null, openaiChunk({ role: 'assistant', content: 'Thinking' }));
  });
}
