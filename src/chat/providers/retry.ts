/** Retries of transient provider failures, with exponential backoff and the provider's Retry-After. */

import { abortReason } from './errors.js';
import {
  ProviderError,
  type ChatProvider,
  type CompletionRequest,
  type CompletionResult,
  type StreamEvent,
} from './provider.js';

export interface RetryInfo {
  /** 1 for the first retry. */
  attempt: number;
  delayMs: number;
  error: ProviderError;
}

export interface RetryOptions {
  /** Retries after the first attempt; 0 never retries. */
  maxRetries: number;
  /** The first backoff; the n-th retry waits baseMs · 2^(n-1), jittered down by up to a half. */
  baseMs: number;
  /** A Retry-After longer than this is not waited for: the error goes to the caller at once. */
  maxDelayMs?: number;
  onRetry?: (info: RetryInfo) => void;
  /** For tests: defaults to Math.random. */
  random?: () => number;
}

const DEFAULT_MAX_DELAY_MS = 30_000;

function retryable(error: unknown): error is ProviderError {
  return error instanceof ProviderError && error.retryable;
}

/** Waits `ms`, or rejects with the abort reason as soon as `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  /* eslint-disable @typescript-eslint/prefer-promise-reject-errors -- the abort reason as-is, whatever it is */
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  /* eslint-enable @typescript-eslint/prefer-promise-reject-errors */
}

/**
 * Wraps a provider: transient and timeout failures are retried up to `maxRetries` times; permanent
 * ones and aborts never are. A stream is retried only while it has yielded nothing — after a
 * delta the caller has shown text, and a retry would repeat it.
 */
export function withRetries(provider: ChatProvider, options: RetryOptions): ChatProvider {
  const { maxRetries, baseMs, onRetry } = options;
  const maxDelayMs = options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
  const random = options.random ?? Math.random;

  /** The wait before retry `attempt` (1-based), or null when the error must go to the caller. */
  function delayFor(error: unknown, attempt: number, signal: AbortSignal): number | null {
    if (signal.aborted || attempt > maxRetries || !retryable(error)) return null;
    const retryAfter = error.retryAfterMs;
    if (retryAfter !== undefined) return retryAfter <= maxDelayMs ? retryAfter : null;
    const backoff = baseMs * 2 ** (attempt - 1);
    return Math.min(maxDelayMs, Math.round(backoff * (0.5 + random() * 0.5)));
  }

  async function complete(request: CompletionRequest): Promise<CompletionResult> {
    const { signal } = request;
    for (let attempt = 1; ; attempt++) {
      if (signal.aborted) throw abortReason(signal);
      try {
        return await provider.complete(request);
      } catch (error) {
        const delayMs = delayFor(error, attempt, signal);
        if (delayMs === null) throw signal.aborted ? abortReason(signal) : error;
        onRetry?.({ attempt, delayMs, error: error as ProviderError });
        await sleep(delayMs, signal);
      }
    }
  }

  async function* stream(request: CompletionRequest): AsyncGenerator<StreamEvent> {
    const { signal } = request;
    for (let attempt = 1; ; attempt++) {
      if (signal.aborted) throw abortReason(signal);
      let yielded = false;
      try {
        for await (const event of provider.stream(request)) {
          yielded = true;
          yield event;
        }
        return;
      } catch (error) {
        const delayMs = yielded ? null : delayFor(error, attempt, signal);
        if (delayMs === null) throw signal.aborted ? abortReason(signal) : error;
        onRetry?.({ attempt, delayMs, error: error as ProviderError });
        await sleep(delayMs, signal);
      }
    }
  }

  return { name: provider.name, complete, stream };
}
