/** Fitting a conversation into a token budget by forgetting its oldest turns. */

import type { LlmMessage } from '../providers/provider.js';
import { estimateMessagesTokens } from './tokens.js';

/**
 * Keeps every system message and drops the oldest other messages until the estimate fits
 * `budgetTokens`. The newest user message is never dropped, so the result may stay over budget
 * when the system messages and that message alone do not fit. Once anything has been dropped,
 * assistant messages left at the front of the conversation go too, so that it opens with a user
 * turn (as Anthropic requires). Order is preserved; the input is not modified.
 */
export function trimHistory(messages: readonly LlmMessage[], budgetTokens: number): LlmMessage[] {
  if (estimateMessagesTokens(messages) <= budgetTokens) return [...messages];

  let lastUser = -1;
  for (let i = messages.length - 1; i >= 0; i -= 1) {
    if (messages[i]?.role === 'user') {
      lastUser = i;
      break;
    }
  }

  const kept = messages.map(() => true);
  let total = estimateMessagesTokens(messages);
  const cost = (i: number) => estimateMessagesTokens([messages[i] as LlmMessage]);
  for (let i = 0; i < messages.length && total > budgetTokens; i += 1) {
    if (messages[i]?.role === 'system' || i === lastUser) continue;
    kept[i] = false;
    total -= cost(i);
  }
  // No conversation that opens with the assistant: drop those left at the front.
  for (let i = 0; i < messages.length; i += 1) {
    const role = messages[i]?.role;
    if (!kept[i] || role === 'system') continue;
    if (role === 'user') break;
    kept[i] = false;
  }
  return messages.filter((_, i) => kept[i]);
}
