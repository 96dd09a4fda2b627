/** Fitting a conversation's earlier turns into a token budget by forgetting the oldest. */

import type { LlmMessage } from '../providers/provider.js';
import { estimateMessagesTokens } from './tokens.js';

/**
 * The newest of `history` (earlier turns, oldest first) whose estimate fits `budgetTokens`,
 * every message counted whatever its role. The instructions and the question are not part of
 * it: the caller keeps those whole and passes what they leave. Assistant messages left at the
 * front go too, so that the turns open with the user's (as Anthropic requires), also when the
 * history came already cut (ChatService.history). Order is preserved; the input is not
 * modified.
 */
export function trimHistory(history: readonly LlmMessage[], budgetTokens: number): LlmMessage[] {
  let total = estimateMessagesTokens(history);
  let first = 0;
  while (first < history.length && total > budgetTokens) {
    total -= estimateMessagesTokens([history[first] as LlmMessage]);
    first += 1;
  }
  while (first < history.length && history[first]?.role === 'assistant') first += 1;
  return history.slice(first);
}
