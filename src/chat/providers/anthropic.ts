/** Claude through Anthropic's Messages API (ANTHROPIC_BASE_URL, without /v1). */

import Anthropic, {
  AnthropicError,
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
} from '@anthropic-ai/sdk';
import type { Message, MessageParam, RawMessageStreamEvent } from '@anthropic-ai/sdk/resources/messages';
import { abortReason, IdleWatchdog, recognizeSdkErrors, toProviderError } from './errors.js';
import type { ChatProvider, CompletionRequest, CompletionResult, StreamEvent, TokenUsage } from './provider.js';

recognizeSdkErrors({
  base: AnthropicError,
  api: APIError,
  connection: APIConnectionError,
  timeout: APIConnectionTimeoutError,
  userAbort: APIUserAbortError,
});

const ANTHROPIC_BASE_URL = 'https://api.anthropic.com';
/** Anthropic requires max_tokens; this is what a request that names none gets. */
export const DEFAULT_MAX_TOKENS = 1024;
/** JSON mode: Anthropic has no json_object switch, so ask for one and start the answer for it. */
export const JSON_INSTRUCTION =
  'Answer with a single JSON object and nothing else: no prose, no Markdown code fence before or after it.';
export const JSON_PREFILL = '{';

export interface AnthropicChatOptions {
  apiKey: string | null;
  /** API root without /v1; null means Anthropic itself. */
  baseUrl: string | null;
  timeoutMs: number;
}

/**
 * The request body: system messages joined into `system`, the rest as alternating user/assistant
 * turns (consecutive same-role messages merged), and in JSON mode the instruction plus a "{" prefill.
 */
export function anthropicParams(request: CompletionRequest) {
  const system = request.messages
    .filter((m) => m.role === 'system')
    .map((m) => m.content)
    .filter((c) => c.trim() !== '');
  if (request.json) system.push(JSON_INSTRUCTION);

  const messages: MessageParam[] = [];
  const add = (role: 'user' | 'assistant', content: string) => {
    const last = messages.at(-1);
    if (last && last.role === role && typeof last.content === 'string') last.content = `${last.content}\n\n${content}`;
    else messages.push({ role, content });
  };
  for (const m of request.messages) if (m.role !== 'system') add(m.role, m.content);
  if (request.json) {
    // A prefill must follow a user turn; an assistant turn already last is continued instead.
    const last = messages.at(-1);
    if (last?.role === 'assistant' && typeof last.content === 'string') last.content = `${last.content.trimEnd()}\n${JSON_PREFILL}`;
    else messages.push({ role: 'assistant', content: JSON_PREFILL });
  }

  return {
    model: request.model,
    max_tokens: request.maxTokens ?? DEFAULT_MAX_TOKENS,
    messages,
    ...(system.length > 0 ? { system: system.join('\n\n') } : {}),
    ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
  };
}

function inputTokens(usage: {
  input_tokens: number | null;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
}): number {
  // Cached prompt tokens are reported apart from input_tokens; they were still sent.
  return (usage.input_tokens ?? 0) + (usage.cache_creation_input_tokens ?? 0) + (usage.cache_read_input_tokens ?? 0);
}

export class AnthropicChatProvider implements ChatProvider {
  readonly name = 'anthropic' as const;
  private readonly client: Anthropic;
  private readonly timeoutMs: number;

  constructor({ apiKey, baseUrl, timeoutMs }: AnthropicChatOptions) {
    this.timeoutMs = timeoutMs;
    // Everything explicit: without a credential the SDK reads ANTHROPIC_* variables and profile
    // files on disk, and ANTHROPIC_LOG / OpenTelemetry variables without those options.
    this.client = new Anthropic({
      // A keyless gateway: the SDK insists on a credential, so give one and drop the header.
      apiKey: apiKey ?? 'none',
      ...(apiKey ? {} : { defaultHeaders: { Authorization: null } }),
      webhookKey: null,
      baseURL: baseUrl ?? ANTHROPIC_BASE_URL,
      timeout: timeoutMs,
      maxRetries: 0,
      logLevel: 'warn',
      openTelemetry: false,
    });
  }

  async complete(request: CompletionRequest): Promise<CompletionResult> {
    const { signal } = request;
    if (signal.aborted) throw abortReason(signal);
    let message: Message;
    try {
      message = await this.client.messages.create(anthropicParams(request), { signal, timeout: this.timeoutMs });
    } catch (error) {
      throw toProviderError(this.name, error, signal);
    }
    if (signal.aborted) throw abortReason(signal);
    const text = message.content.map((block) => (block.type === 'text' ? block.text : '')).join('');
    return {
      content: request.json ? JSON_PREFILL + text : text,
      usage: { inputTokens: inputTokens(message.usage), outputTokens: message.usage.output_tokens ?? 0 },
      model: message.model || request.model,
    };
  }

  async *stream(request: CompletionRequest): AsyncGenerator<StreamEvent> {
    const { signal } = request;
    if (signal.aborted) throw abortReason(signal);
    const watchdog = new IdleWatchdog(signal, this.timeoutMs);
    try {
      let events: AsyncIterable<RawMessageStreamEvent>;
      try {
        events = await this.client.messages.create(
          { ...anthropicParams(request), stream: true },
          { signal: watchdog.signal, timeout: this.timeoutMs },
        );
      } catch (error) {
        throw watchdog.error(this.name, error);
      }

      const usage: TokenUsage = { inputTokens: 0, outputTokens: 0 };
      let model = request.model;
      // JSON mode: the "{" we prefilled goes in front of the first delta.
      let prefix = request.json ? JSON_PREFILL : '';
      watchdog.touch();
      try {
        for await (const event of events) {
          if (event.type === 'message_start') {
            if (event.message.model) model = event.message.model;
            usage.inputTokens = inputTokens(event.message.usage);
            usage.outputTokens = event.message.usage.output_tokens ?? 0;
          } else if (event.type === 'message_delta') {
            // Cumulative counts; input_tokens is repeated here by some servers, absent by others.
            if (event.usage.input_tokens != null) usage.inputTokens = inputTokens(event.usage);
            usage.outputTokens = event.usage.output_tokens ?? usage.outputTokens;
          } else if (event.type === 'content_block_delta' && event.delta.type === 'text_delta' && event.delta.text) {
            const text = prefix + event.delta.text;
            prefix = '';
            watchdog.pause();
            yield { type: 'delta', text };
          }
          watchdog.touch();
        }
      } catch (error) {
        throw watchdog.error(this.name, error);
      }
      watchdog.throwIfStopped(this.name);
      watchdog.pause();
      if (prefix) yield { type: 'delta', text: prefix };
      yield { type: 'done', usage, model };
    } finally {
      watchdog.dispose();
    }
  }
}
