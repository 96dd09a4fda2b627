/** What a chat completion goes through: the question, its checked draft, the reserved call, the stored answer. */

import type { LlmProviderName } from '../config.js';
import type { Tx } from '../db/client.js';
import type { Citation } from '../db/schema.js';
import type { GroundingSegment } from './grounding/transcript.js';
import { providerAppError } from './providers/errors.js';
import { ProviderError, type ChatProvider, type LlmMessage } from './providers/provider.js';
import type { Reservation } from './quota.js';
import type { RedactionCounts, Redactor } from '../privacy/index.js';

export interface CompletionInput {
  message: string;
  transcription_id?: string;
  session_id?: string;
  provider?: LlmProviderName;
  model?: string;
  /** Overrides LLM_REDACT_PII within what it allows (see shouldRedact). */
  redact?: boolean;
  /** "all": without a transcript, ground in the best-matching passages of all the user's transcripts. */
  scope?: 'all';
}

export interface CompletionOutcome {
  content: string;
  citations: Citation[];
  usage: { input_tokens: number; output_tokens: number };
  provider: LlmProviderName;
  model: string;
  session_id: string;
  message_id: string;
  /** Values the provider saw as placeholders, by kind; null when the prompt was not redacted. */
  redactions: RedactionCounts | null;
}

export type CompletionStreamEvent = { type: 'delta'; text: string } | { type: 'done'; result: CompletionOutcome };

/** A question with its prompt, gathered and checked; nothing reserved, the provider not called. */
export interface DraftCompletion {
  userId: string;
  sessionId: string;
  userMessageId: string;
  provider: ChatProvider;
  providerName: LlmProviderName;
  model: string;
  /** Within LLM_CONTEXT_TOKENS (see PromptBuilder). */
  messages: LlmMessage[];
  segments: GroundingSegment[];
  promptTokens: number;
  /** The request's one redactor (it restores the answer); null when the prompt goes as written. */
  redactor: Redactor | null;
  /** What `messages` had replaced, by kind; null without a redactor. */
  redactions: RedactionCounts | null;
  /** Writes the question (and a new session) in `tx`; nothing for a question already stored. */
  writeQuestion(tx: Tx): Promise<void>;
  /**
   * writeQuestion in a transaction of its own, once however often it is called. It runs alongside
   * the provider request, so the first token does not wait for it; an answer is recorded only
   * after it has succeeded, and its failure aborts the provider request.
   */
  store(): Promise<void>;
}

/** A provider's answer to a prepared question, ready to be stored. */
export interface AnsweredCompletion {
  /** The id the answer will be stored under. */
  messageId: string;
  /** Stores the answer with its usage and citations and settles its reservation, in `tx`. */
  record(tx: Tx): Promise<CompletionOutcome>;
}

/** A draft whose cost is reserved against the user's daily allowance: ready for the provider. */
export interface PreparedCompletion extends DraftCompletion {
  reservation: Reservation;
}

/** Provider failures as the user sees them: the failure's code from the error list, with its Retry-After. */
export function providerFailure(error: unknown): unknown {
  return error instanceof ProviderError ? providerAppError(error) : error;
}
