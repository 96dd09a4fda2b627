import type { ChatProvider, ChatProviderLookup } from '../chat/providers/index.js';
import type { CompletionRequest, CompletionResult, StreamEvent } from '../chat/providers/provider.js';
import type { LlmMetrics } from './metrics.js';

/**
 * Times every LLM call and counts the tokens its provider reports, around the retrying provider:
 * every use (chat, chat jobs, summaries) goes through here, so nothing is counted twice or missed.
 * `model` is the model asked for, one of the configured or allow-listed names, so its label stays
 * bounded whatever the provider answers with.
 */
function instrumentProvider(provider: ChatProvider, metrics: LlmMetrics): ChatProvider {
  const observe = (request: CompletionRequest, started: number, outcome: 'ok' | 'error') =>
    metrics.llmCall({ provider: provider.name, model: request.model, outcome, seconds: (performance.now() - started) / 1000 });
  return {
    name: provider.name,
    async complete(request: CompletionRequest): Promise<CompletionResult> {
      const started = performance.now();
      try {
        const result = await provider.complete(request);
        observe(request, started, 'ok');
        metrics.llmTokens(provider.name, request.model, result.usage);
        return result;
      } catch (error) {
        observe(request, started, 'error');
        throw error;
      }
    },
    async *stream(request: CompletionRequest): AsyncGenerator<StreamEvent> {
      const started = performance.now();
      let done = false;
      try {
        for await (const event of provider.stream(request)) {
          if (event.type === 'done') {
            done = true;
            observe(request, started, 'ok');
            metrics.llmTokens(provider.name, request.model, event.usage);
          }
          yield event;
        }
      } finally {
        // An error, or a consumer that stopped reading (the client went away), before the end.
        if (!done) observe(request, started, 'error');
      }
    },
  };
}

export function instrumentProviders(lookup: ChatProviderLookup, metrics: LlmMetrics | undefined): ChatProviderLookup {
  if (!metrics) return lookup;
  const wrapped = new Map<ChatProvider, ChatProvider>();
  return (name) => {
    const provider = lookup(name);
    if (!provider) return null;
    let instrumented = wrapped.get(provider);
    if (!instrumented) {
      instrumented = instrumentProvider(provider, metrics);
      wrapped.set(provider, instrumented);
    }
    return instrumented;
  };
}
