import { REDACT_PII_MODES, type RedactPiiMode } from '../privacy/policy.js';
import type { Reader } from './reader.js';

export const LLM_PROVIDERS = ['openai', 'anthropic'] as const;
export type LlmProviderName = (typeof LLM_PROVIDERS)[number];

export interface LlmConfig {
  /** The default provider; null when none has a key or base URL (chat then answers 503). */
  provider: LlmProviderName | null;
  model: string;
  openai: { apiKey: string | null; baseUrl: string | null };
  anthropic: { apiKey: string | null; baseUrl: string | null };
  /** provider:model pairs a request may pick besides the default (e.g. anthropic:claude-sonnet-4-5). */
  allowedModels: string[];
  timeoutMs: number;
  /** Retries of a transient provider error (429, 5xx, timeout) before the user gets 502/504. */
  maxRetries: number;
  retryBaseMs: number;
  /** Tokens of transcript sent whole; longer transcripts are retrieved from or summarised in chunks. */
  contextTokens: number;
  maxOutputTokens: number;
  /** Tokens a user may spend per UTC day; 0 means unlimited. */
  dailyTokenLimit: number;
  /** LLM_REDACT_PII: personal data is replaced by placeholders before it reaches providers this covers. */
  redactPii: RedactPiiMode;
}

const DEFAULT_MODELS: Record<LlmProviderName, string> = {
  openai: 'gpt-4o-mini',
  anthropic: 'claude-3-5-haiku-latest',
};

export function readLlm(read: Reader, openaiApiKey: string | null): LlmConfig {
  const openai = { apiKey: openaiApiKey, baseUrl: read.url('OPENAI_BASE_URL', ['http:', 'https:']) };
  const anthropic = {
    apiKey: read.optional('ANTHROPIC_API_KEY'),
    baseUrl: read.url('ANTHROPIC_BASE_URL', ['http:', 'https:']),
  };
  const configured = (p: { apiKey: string | null; baseUrl: string | null }) => Boolean(p.apiKey || p.baseUrl);
  const fallback: LlmProviderName | null = configured(openai) ? 'openai' : configured(anthropic) ? 'anthropic' : null;
  const provider = read.raw('LLM_PROVIDER') ? read.oneOf('LLM_PROVIDER', LLM_PROVIDERS, 'openai') : fallback;
  return {
    provider,
    model: read.string('LLM_MODEL', DEFAULT_MODELS[provider ?? 'openai']),
    openai,
    anthropic,
    allowedModels: read.list('LLM_ALLOWED_MODELS', []),
    timeoutMs: read.int('LLM_TIMEOUT_MS', 60_000, 100),
    maxRetries: read.int('LLM_MAX_RETRIES', 2, 0, 10),
    retryBaseMs: read.int('LLM_RETRY_BASE_MS', 500, 1),
    contextTokens: read.int('LLM_CONTEXT_TOKENS', 12_000, 100),
    maxOutputTokens: read.int('LLM_MAX_OUTPUT_TOKENS', 1_024, 16),
    dailyTokenLimit: read.int('LLM_DAILY_TOKEN_LIMIT', 0, 0),
    redactPii: read.oneOf('LLM_REDACT_PII', REDACT_PII_MODES, 'cloud'),
  };
}
