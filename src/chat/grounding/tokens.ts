/**
 * Cheap token estimates for budgeting prompts. Not a tokenizer: about four characters per token
 * for alphabetic scripts, one token per CJK character (Han, kana, Hangul), which tokenizers split
 * much more finely. Good enough to decide what fits; leave a margin below the model's real limit.
 */

import type { LlmMessage } from '../providers/provider.js';

/** Roles, separators and the like that every message costs beyond its text. */
export const MESSAGE_OVERHEAD_TOKENS = 4;

const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\u3000-\u303f\uff00-\uffef]/u;

export function estimateTokens(text: string): number {
  if (text.length === 0) return 0;
  let cjk = 0;
  let other = 0;
  for (const char of text) {
    // Fast path: everything below U+2E80 (Latin, Greek, Cyrillic, Arabic, ...) is "other".
    if (char.charCodeAt(0) < 0x2e80) other += 1;
    else if (CJK.test(char)) cjk += 1;
    else other += 1;
  }
  return cjk + Math.ceil(other / 4);
}

export function estimateMessagesTokens(messages: readonly LlmMessage[]): number {
  let total = 0;
  for (const message of messages) total += MESSAGE_OVERHEAD_TOKENS + estimateTokens(message.content);
  return total;
}
