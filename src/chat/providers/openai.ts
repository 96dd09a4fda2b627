/** Chat completions from OpenAI, or any server that speaks its API (OPENAI_BASE_URL, including /v1). */

import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError, OpenAIError } from 'openai';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { abortReason, IdleWatchdog, recognizeSdkErrors, toProviderError } from './errors.js';
import type { ChatProvider, CompletionRequest, CompletionResult, StreamEvent, TokenUsage } from './provider.js';

recognizeSdkErrors({
  base: OpenAIError,
  api: APIError,
  connection: APIConnectionError,
  timeout: APIConnectionTimeoutError,
  userAbort: APIUserAbortError,
});

const OPENAI_BASE_URL = 'https://api.openai.com/v1';

export interface OpenAIChatOptions {
  apiKey: string | null;
  /** API root including /v1; null means OpenAI itself. */
  baseUrl: string | null;
  timeoutMs: number;
}

export class OpenAIChatProvider implements ChatProvider {
  readonly name = 'openai' as const;
  private readonly client: OpenAI;
  private readonly timeoutMs: number;

  constructor({ apiKey, baseUrl, timeoutMs }: OpenAIChatOptions) {
    this.timeoutMs = timeoutMs;
    // Everything explicit: the SDK would otherwise read OPENAI_* variables behind the config's back.
    this.client = new OpenAI({
      // A keyless self-hosted server: the SDK insists on a key, so give one and drop the header.
      apiKey: apiKey ?? 'none',
      ...(apiKey ? {} : { defaultHeaders: { Authorization: null } }),
      adminAPIKey: null,
      organization: null,
      project: null,
      webhookSecret: null,
      logLevel: 'warn',
      baseURL: baseUrl ?? OPENAI_BASE_URL,
      timeout: timeoutMs,
      // withRetries() retries, knowing the caller's signal and budget.
      maxRetries: 0,
    });
  }

  private params(request: CompletionRequest) {
    return {
      model: request.model,
      messages: request.messages.map((m): ChatCompletionMessageParam => ({ role: m.role, content: m.content })),
      ...(request.maxTokens !== undefined ? { max_tokens: request.maxTokens } : {}),
      ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
      ...(request.json ? { response_format: { type: 'json_object' as const } } : {}),
    };
  }

  async complete(request: CompletionRequest): Promise<CompletionResult> {
    const { signal } = request;
    if (signal.aborted) throw abortReason(signal);
    let completion: OpenAI.Chat.Completions.ChatCompletion;
    try {
      completion = await this.client.chat.completions.create(this.params(request), { signal, timeout: this.timeoutMs });
    } catch (error) {
      throw toProviderError(this.name, error, signal);
    }
    if (signal.aborted) throw abortReason(signal);
    return {
      content: completion.choices[0]?.message?.content ?? '',
      usage: {
        inputTokens: completion.usage?.prompt_tokens ?? 0,
        outputTokens: completion.usage?.completion_tokens ?? 0,
      },
      model: completion.model || request.model,
    };
  }

  async *stream(request: CompletionRequest): AsyncGenerator<StreamEvent> {
    const { signal } = request;
    if (signal.aborted) throw abortReason(signal);
    const watchdog = new IdleWatchdog(signal, this.timeoutMs);
    try {
      let chunks: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>;
      try {
        chunks = await this.client.chat.completions.create(
          { ...this.params(request), stream: true, stream_options: { include_usage: true } },
          { signal: watchdog.signal, timeout: this.timeoutMs },
        );
      } catch (error) {
        throw watchdog.error(this.name, error);
      }

      // Servers that ignore include_usage send none: 0/0 rather than no `done`.
      let usage: TokenUsage = { inputTokens: 0, outputTokens: 0 };
      let model = request.model;
      watchdog.touch();
      try {
        for await (const chunk of chunks) {
          if (chunk.model) model = chunk.model;
          if (chunk.usage) {
            usage = { inputTokens: chunk.usage.prompt_tokens ?? 0, outputTokens: chunk.usage.completion_tokens ?? 0 };
          }
          const text = chunk.choices[0]?.delta?.content;
          if (text) {
            watchdog.pause();
            yield { type: 'delta', text };
          }
          watchdog.touch();
        }
      } catch (error) {
        throw watchdog.error(this.name, error);
      }
      // The SDK ends an aborted stream quietly; the caller must still learn it did not finish.
      watchdog.throwIfStopped(this.name);
      watchdog.pause();
      yield { type: 'done', usage, model };
    } finally {
      watchdog.dispose();
    }
  }
}
