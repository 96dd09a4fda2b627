/** One interface for every LLM: OpenAI (and any OpenAI-compatible server) and Anthropic. */

import type { LlmProviderName } from '../../config.js';
import { isPermanent, type ErrorCode } from '../../http/errors.js';

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
 * A failed provider call. `code` is from the list in src/http/errors.ts: llm_rate_limited (429),
 * llm_overloaded (503), llm_unavailable (5xx, connection trouble), llm_timeout (no answer in time)
 * are worth retrying; llm_rejected (the request itself is wrong: bad model, bad key, too long) is not.
 */
export class ProviderError extends Error {
  /** How long the provider asked us to wait (retry-after-ms / Retry-After); absent when it named none. */
  readonly retryAfterMs?: number;

  constructor(
    message: string,
    readonly code: ErrorCode,
    readonly provider: LlmProviderName,
    readonly status: number | null,
    options?: { cause?: unknown; retryAfterMs?: number },
  ) {
    super(message, options);
    this.name = 'ProviderError';
    if (options?.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }

  /** Whether trying again may work. */
  get retryable(): boolean {
    return !isPermanent(this.code);
  }
}
