/** The configured chat providers, each wrapped in withRetries. */

import type { LlmConfig } from '../../config.js';
import type { ChatProvider, CompletionRequest, CompletionResult, LlmProviderName, StreamEvent } from './provider.js';
import { withRetries, type RetryInfo } from './retry.js';

export { ProviderError, type ChatProvider, type LlmProviderName } from './provider.js';
export { toProviderError } from './errors.js';
export { withRetries } from './retry.js';

export type ChatProviderLookup = (name: LlmProviderName) => ChatProvider | null;

interface ProviderSettings {
  apiKey: string | null;
  baseUrl: string | null;
  timeoutMs: number;
}

/** Each provider's module, imported on first use: each pulls in its SDK, several MB of code. */
const loaders: Record<LlmProviderName, (settings: ProviderSettings) => Promise<ChatProvider>> = {
  openai: async (settings) => new (await import('./openai.js')).OpenAIChatProvider(settings),
  anthropic: async (settings) => new (await import('./anthropic.js')).AnthropicChatProvider(settings),
};

/** Builds the real provider on its first call, so an unused provider's SDK is never loaded. */
class LazyChatProvider implements ChatProvider {
  private provider: Promise<ChatProvider> | null = null;

  constructor(
    readonly name: LlmProviderName,
    private readonly settings: ProviderSettings,
  ) {}

  private load(): Promise<ChatProvider> {
    // A failed import (a broken install) is not kept: the next call tries again.
    this.provider ??= loaders[this.name](this.settings).catch((error: unknown) => {
      this.provider = null;
      throw error;
    });
    return this.provider;
  }

  async complete(request: CompletionRequest): Promise<CompletionResult> {
    return (await this.load()).complete(request);
  }

  async *stream(request: CompletionRequest): AsyncGenerator<StreamEvent> {
    yield* (await this.load()).stream(request);
  }
}

/**
 * `provider(name)` gives the retrying provider for `name`, built once on first use, or null when
 * that provider has neither an API key nor a base URL.
 */
export function createChatProviders(
  llm: LlmConfig,
  options: { onRetry?: (provider: LlmProviderName, info: RetryInfo) => void } = {},
): ChatProviderLookup {
  const built = new Map<LlmProviderName, ChatProvider>();
  return (name) => {
    const cached = built.get(name);
    if (cached) return cached;
    const settings = llm[name];
    if (!settings.apiKey && !settings.baseUrl) return null;
    const raw = new LazyChatProvider(name, { apiKey: settings.apiKey, baseUrl: settings.baseUrl, timeoutMs: llm.timeoutMs });
    const provider = withRetries(raw, {
      maxRetries: llm.maxRetries,
      baseMs: llm.retryBaseMs,
      ...(options.onRetry ? { onRetry: (info: RetryInfo) => options.onRetry?.(name, info) } : {}),
    });
    built.set(name, provider);
    return provider;
  };
}
