/** Whether and how a chat request keeps personal data from its provider (LLM_REDACT_PII, `redact`). */

import type { LlmConfig, LlmProviderName } from '../config.js';
import type { Tx } from '../db/client.js';
import { createRedactor, shouldRedact, type RedactionCounts, type Redactor } from '../privacy/index.js';
import { sensitiveTerms } from '../privacy/terms.js';

/** The server's mode for the chosen provider's base URL, as the request's `redact` may change it. */
export function redactsFor(llm: LlmConfig, provider: LlmProviderName, requested?: boolean): boolean {
  return shouldRedact(llm.redactPii, llm[provider].baseUrl, requested);
}

/** The one redactor of a request, with the user's sensitive terms (read in `tx`, as that user); null when off. */
export async function requestRedactor(tx: Tx, on: boolean): Promise<Redactor | null> {
  return on ? createRedactor({ terms: await sensitiveTerms(tx) }) : null;
}

/** What an answer records: values replaced in what the provider was sent, by kind; null when not redacted. */
export function appliedRedactions(redactor: Redactor | null, sent: readonly { content: string }[]): RedactionCounts | null {
  return redactor ? redactor.countsIn(sent.map((m) => m.content)) : null;
}
