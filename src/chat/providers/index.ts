/** The configured chat providers, each wrapped in withRetries. */

import type { LlmConfig } from '../../config.js';
import { AnthropicChatProvider } from './anthropic.js';
import { OpenAIChatProvider } from './openai.js';
import type { ChatProvider, LlmProviderName } from './provider.js';
import { withRetries, type RetryInfo } from './retry.js';

export { ProviderError, type ChatProvider, type LlmProviderName } from './provider.js';
export { ProviderCallError, toProviderError } from './errors.js';
export { withRetries } from './retry.js';

export type ChatProviderLookup = (name: LlmProviderName) => ChatProvider | null;

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
    const base = { apiKey: settings.apiKey, baseUrl: settings.baseUrl, timeoutMs: llm.timeoutMs };
    const raw: ChatProvider = name === 'openai' ? new OpenAIChatProvider(base) : new AnthropicChatProvider(base);
    const provider = withRetries(raw, {
      maxRetries: llm.maxRetries,
      baseMs: llm.retryBaseMs,
      ...(options.onRetry ? { onRetry: (info: RetryInfo) => options.onRetry?.(name, info) } : {}),
    });
    built.set(name, provider);
    return provider;
  };
}
