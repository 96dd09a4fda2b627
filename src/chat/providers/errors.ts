/** SDK failures (openai, @anthropic-ai/sdk) as ProviderErrors, and the stream watchdog both providers use. */

import { AppError, retryAfterHeader } from '../../http/errors.js';
import { ProviderError, type LlmProviderName } from './provider.js';

const LABELS: Record<LlmProviderName, string> = { openai: 'OpenAI', anthropic: 'Anthropic' };

/** The error to throw for an aborted signal: its reason as-is, or an AbortError when it has none. */
export function abortReason(signal: AbortSignal): unknown {
  const reason: unknown = signal.reason;
  return reason ?? new DOMException('The request was aborted', 'AbortError');
}

/** Parses `retry-after-ms`, then `Retry-After` (delta-seconds or HTTP-date), into milliseconds. */
export function parseRetryAfter(headers: Headers | undefined | null, now = Date.now()): number | undefined {
  if (!headers) return undefined;
  const ms = headers.get('retry-after-ms');
  if (ms !== null && ms.trim() !== '') {
    const value = Number(ms);
    if (Number.isFinite(value) && value >= 0) return value;
  }
  const raw = headers.get('retry-after');
  if (raw === null || raw.trim() === '') return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return seconds >= 0 ? Math.round(seconds * 1000) : undefined;
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** What both SDKs' APIError carries (they are generated from one template). */
interface SdkApiError extends Error {
  readonly status: number | undefined;
  readonly headers: Headers | undefined;
  readonly error: unknown;
}

type ErrorClass<T extends Error = Error> = abstract new (...args: never[]) => T;

/** One SDK's error classes, which toProviderError recognises its failures by. */
export interface SdkErrorClasses {
  /** The root of everything the SDK throws (OpenAIError, AnthropicError). */
  base: ErrorClass;
  api: ErrorClass<SdkApiError>;
  connection: ErrorClass<SdkApiError>;
  timeout: ErrorClass;
  userAbort: ErrorClass;
}

/*
 * Filled by each provider module as it loads. This module must not import the SDKs itself: both
 * providers share it, and a server configured for one (or none) should not load the other's SDK.
 * An SDK's errors can only reach toProviderError once that SDK is loaded, so nothing is missed.
 */
const knownSdks = new Set<SdkErrorClasses>();

/** Called by a provider module at load time, with its SDK's classes. */
export function recognizeSdkErrors(classes: SdkErrorClasses): void {
  knownSdks.add(classes);
}

function fromAnySdk(error: unknown, pick: (classes: SdkErrorClasses) => ErrorClass): boolean {
  for (const classes of knownSdks) if (error instanceof pick(classes)) return true;
  return false;
}

function isUserAbort(error: unknown): boolean {
  return fromAnySdk(error, (c) => c.userAbort);
}

function isTimeout(error: unknown): boolean {
  return fromAnySdk(error, (c) => c.timeout);
}

function isConnection(error: unknown): error is SdkApiError {
  return fromAnySdk(error, (c) => c.connection);
}

function isApiError(error: unknown): error is SdkApiError {
  return fromAnySdk(error, (c) => c.api);
}

function isSdkError(error: unknown): boolean {
  return fromAnySdk(error, (c) => c.base);
}

/**
 * The provider's own words: OpenAI's SDK keeps `{message}` (the body's `error`) on `.error`,
 * Anthropic's keeps the whole body `{type:'error', error:{message}}` there.
 */
function providerMessage(error: SdkApiError): string {
  const body = error.error as { message?: unknown; error?: { message?: unknown } } | undefined | null;
  if (typeof body?.message === 'string' && body.message !== '') return body.message;
  if (typeof body?.error?.message === 'string' && body.error.message !== '') return body.error.message;
  const status = error.status;
  return status === undefined ? error.message : error.message.replace(new RegExp(`^${status}\\s*`), '');
}

/** The error's own type name in the body: OpenAI's `{type}` or Anthropic's `{error: {type}}`. */
function errorType(error: SdkApiError): string | undefined {
  const body = error.error as { type?: unknown; error?: { type?: unknown } } | undefined | null;
  const type = body?.error?.type ?? body?.type;
  return typeof type === 'string' ? type : undefined;
}

/**
 * Maps any failure of a provider call. An aborted call rethrows the abort reason itself (not a
 * ProviderError), so callers see the same error they aborted with.
 */
export function toProviderError(provider: LlmProviderName, error: unknown, signal: AbortSignal): unknown {
  if (signal.aborted) return abortReason(signal);
  if (isUserAbort(error)) return error;
  if (error instanceof ProviderError) return error;
  const label = LABELS[provider];

  if (isTimeout(error)) {
    return new ProviderError(`${label} did not answer in time`, 'llm_timeout', provider, null, { cause: error });
  }
  if (isConnection(error)) {
    const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    return new ProviderError(`Could not reach ${label}${cause}`, 'llm_unavailable', provider, null, { cause: error });
  }
  if (isApiError(error)) {
    const status = error.status;
    const message = providerMessage(error);
    const retryAfterMs = parseRetryAfter(error.headers);
    const options = { cause: error, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
    if (status === 429) return new ProviderError(`${label} is rate limiting us (429): ${message}`, 'llm_rate_limited', provider, status, options);
    // 529 is Anthropic's "overloaded"; inside a stream the same arrives as an error event without a status.
    if (status === 503 || status === 529 || (status === undefined && errorType(error) === 'overloaded_error')) {
      return new ProviderError(`${label} is overloaded (${status ?? 'stream error'}): ${message}`, 'llm_overloaded', provider, status ?? null, options);
    }
    // No status: an `event: error` inside a stream (api_error) — the provider's trouble.
    if (status === undefined || status === 408 || status === 409 || status >= 500) {
      return new ProviderError(`${label} is unavailable (${status ?? 'stream error'}): ${message}`, 'llm_unavailable', provider, status ?? null, options);
    }
    return new ProviderError(`${label} rejected the request (${status}): ${message}`, 'llm_rejected', provider, status, { cause: error });
  }
  if (isSdkError(error)) {
    // The SDK refused before sending anything (missing credentials, bad options): retrying won't help.
    const message = error instanceof Error ? error.message : String(error);
    return new ProviderError(`${label} client error: ${message}`, 'llm_rejected', provider, null, { cause: error });
  }
  // Anything else is the connection dropping mid-body (undici's "terminated") or garbled SSE.
  const message = error instanceof Error ? error.message : String(error);
  return new ProviderError(`${label} failed: ${message}`, 'llm_unavailable', provider, null, { cause: error });
}

/**
 * A request's own AbortController, aborted by the caller's signal or when `idleMs` pass without
 * `touch()`. SDK timeouts only cover the wait for response headers, so a stream that stalls
 * after them would otherwise hang until the caller gives up.
 */
export class IdleWatchdog {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | null = null;
  private readonly onAbort = () => this.controller.abort(this.outer.reason);
  /** True once the idle timer (not the caller) aborted the request. */
  fired = false;

  constructor(
    private readonly outer: AbortSignal,
    private readonly idleMs: number,
  ) {
    if (outer.aborted) this.controller.abort(outer.reason);
    else outer.addEventListener('abort', this.onAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** (Re)starts the idle timer. */
  touch(): void {
    this.pause();
    if (this.controller.signal.aborted) return;
    this.timer = setTimeout(() => {
      this.fired = true;
      this.controller.abort(new DOMException('The provider stopped sending', 'TimeoutError'));
    }, this.idleMs);
  }

  /** Stops the timer while the consumer holds a yielded event: its slowness is not the provider's. */
  pause(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  dispose(): void {
    this.pause();
    this.outer.removeEventListener('abort', this.onAbort);
  }

  /** Maps a failure (or the silent end the SDKs give an aborted stream) for this request. */
  error(provider: LlmProviderName, error: unknown): unknown {
    if (this.fired && !this.outer.aborted) {
      return new ProviderError(
        `${LABELS[provider]} stopped sending for ${this.idleMs} ms`,
        'llm_timeout',
        provider,
        null,
        error === undefined ? undefined : { cause: error },
      );
    }
    return toProviderError(provider, error, this.outer);
  }

  /** Throws if the request ended because of an abort; SDK streams end quietly when aborted. */
  throwIfStopped(provider: LlmProviderName): void {
    if (this.outer.aborted) throw abortReason(this.outer);
    if (this.fired) throw this.error(provider, undefined);
  }
}

/**
 * A provider failure as the error the client sees: the failure's own code (a provider's 429 stays a
 * 429, its 503 a 503), with the wait the provider asked for as Retry-After.
 */
export function providerAppError(error: ProviderError): AppError {
  const hint = error.retryable ? '; try again shortly' : '';
  return new AppError(
    error.code,
    `The ${error.provider} model failed: ${error.message}${hint}`,
    undefined,
    retryAfterHeader(error.code, error.retryAfterMs),
    { cause: error },
  );
}
