/** The outside services the fuzzed app talks to, faked on 127.0.0.1: OpenAI and Anthropic chat, OpenAI speech. */
import type { ServerResponse } from 'node:http';
import { fakeServer, json, openaiCompletion, sse, startSse, type FakeServer } from '../helpers/fake-llm.js';

/**
 * Every answer is a valid summary: chat routes take it as text, the summary route as its JSON,
 * so one fake serves both without telling the requests apart.
 */
const ANSWER = JSON.stringify({
  summary: 'A short meeting about the budget [1].',
  key_points: [{ text: 'Budget up ten percent', segments: [1] }],
  action_items: [{ text: 'Send the report', owner: 'Maria', segments: [1] }],
  language: 'en',
});

function openAIChat(res: ServerResponse, stream: boolean | undefined): void {
  if (!stream) {
    json(res, 200, openaiCompletion(ANSWER, { prompt_tokens: 30, completion_tokens: 12 }));
    return;
  }
  startSse(res);
  const chunk = (delta: object, finish: string | null) => ({
    id: 'c',
    object: 'chat.completion.chunk',
    created: 0,
    model: 'gpt-test',
    choices: [{ index: 0, delta, finish_reason: finish }],
  });
  sse(res, null, chunk({ role: 'assistant', content: ANSWER.slice(0, 20) }, null));
  sse(res, null, chunk({ content: ANSWER.slice(20) }, null));
  sse(res, null, chunk({}, 'stop'));
  sse(res, null, { id: 'c', object: 'chat.completion.chunk', created: 0, model: 'gpt-test', choices: [], usage: { prompt_tokens: 30, completion_tokens: 12, total_tokens: 42 } });
  sse(res, null, '[DONE]');
  res.end();
}

/** Anthropic continues a prefilled assistant turn (the summary route prefills `{`) rather than repeating it. */
function continuing(messages: { role: string; content: unknown }[] | undefined): string {
  const last = messages?.at(-1);
  const content = last?.role === 'assistant' ? last.content : '';
  const prefill = Array.isArray(content)
    ? content.map((block: { text?: string }) => block.text ?? '').join('')
    : typeof content === 'string'
      ? content
      : '';
  return ANSWER.startsWith(prefill) ? ANSWER.slice(prefill.length) : ANSWER;
}

function anthropicMessages(res: ServerResponse, stream: boolean | undefined, text: string): void {
  const message = { id: 'msg', type: 'message', role: 'assistant', model: 'claude-test', stop_sequence: null };
  if (!stream) {
    json(res, 200, { ...message, content: [{ type: 'text', text }], stop_reason: 'end_turn', usage: { input_tokens: 20, output_tokens: 8 } });
    return;
  }
  startSse(res);
  sse(res, 'message_start', { type: 'message_start', message: { ...message, content: [], stop_reason: null, usage: { input_tokens: 20, output_tokens: 1 } } });
  sse(res, 'content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
  sse(res, 'content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } });
  sse(res, 'content_block_stop', { type: 'content_block_stop', index: 0 });
  sse(res, 'message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 8 } });
  sse(res, 'message_stop', { type: 'message_stop' });
  res.end();
}

/** OpenAI's verbose_json transcription of anything: two words with times. */
function speech(res: ServerResponse): void {
  json(res, 200, {
    task: 'transcribe',
    language: 'english',
    duration: 0.3,
    text: 'Hello there.',
    segments: [
      { id: 0, seek: 0, start: 0, end: 0.3, text: 'Hello there.', tokens: [1, 2], temperature: 0, avg_logprob: -0.2, compression_ratio: 1.1, no_speech_prob: 0.01 },
    ],
    words: [
      { word: 'Hello', start: 0, end: 0.12 },
      { word: 'there', start: 0.12, end: 0.3 },
    ],
  });
}

export interface Fakes {
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function startFakes(): Promise<Fakes> {
  const servers: FakeServer[] = [];
  const openai = await fakeServer((req, res) => {
    if (req.url.endsWith('/audio/transcriptions')) return speech(res);
    return openAIChat(res, req.body.stream);
  });
  servers.push(openai);
  const anthropic = await fakeServer((req, res) => anthropicMessages(res, req.body.stream, continuing(req.body.messages)));
  servers.push(anthropic);
  return {
    env: {
      OPENAI_BASE_URL: `${openai.origin}/v1`,
      OPENAI_API_KEY: 'sk-fuzz',
      LLM_PROVIDER: 'openai',
      LLM_MODEL: 'gpt-test',
      ANTHROPIC_BASE_URL: anthropic.origin,
      ANTHROPIC_API_KEY: 'sk-ant-fuzz',
      // Any pairing of the fuzzer's provider and model names is allowed, so that valid requests succeed.
      LLM_ALLOWED_MODELS: 'anthropic:claude-test,anthropic:gpt-test,openai:claude-test,openai:gpt-test-2,anthropic:gpt-test-2',
      STT_ENGINE: 'openai',
      STT_BASE_URL: `${openai.origin}/v1`,
      STT_API_KEY: 'sk-fuzz',
    },
    close: async () => {
      await Promise.all(servers.map((s) => s.close()));
    },
  };
}
