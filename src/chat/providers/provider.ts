/** One interface for every LLM: OpenAI (and any OpenAI-compatible server) and Anthropic. */

import type { LlmProviderName } from '../../config.js';

export type { LlmProviderName };

export interface LlmMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface CompletionRequest {
  model: string;
  messages: LlmMessage[];
  maxTokens?: number;
  temperature?: number;
  /** Ask for a single JSON object as the answer (OpenAI json_object; Anthropic by instruction + prefill). */
  json?: boolean;
  signal: AbortSignal;
}

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
}

export interface CompletionResult {
  content: string;
  usage: TokenUsage;
  /** The model that answered, as the provider names it. */
  model: string;
}

export type StreamEvent =
  | { type: 'delta'; text: string }
  | { type: 'done'; usage: TokenUsage; model: string };

export interface ChatProvider {
  readonly name: LlmProviderName;
  complete(request: CompletionRequest): Promise<CompletionResult>;
  /** Yields text deltas, then one `done`. Aborting the signal aborts the HTTP request to the provider. */
  stream(request: CompletionRequest): AsyncIterable<StreamEvent>;
}

/**
 * transient: rate limited, 5xx, connection trouble (retry with backoff); timeout: no answer in
 * time; permanent: the request itself is wrong (bad model, bad key, too long).
 */
export type ProviderErrorKind = 'transient' | 'timeout' | 'permanent';

export class ProviderError extends Error {
  constructor(
    message: string,
    readonly kind: ProviderErrorKind,
    readonly provider: LlmProviderName,
    readonly status: number | null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ProviderError';
  }
}
