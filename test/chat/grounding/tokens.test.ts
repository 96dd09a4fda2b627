import assert from 'node:assert/strict';
import { test } from 'node:test';
import { estimateMessagesTokens, estimateTokens, MESSAGE_OVERHEAD_TOKENS } from '../../../src/chat/grounding/tokens.js';

test('about four characters per token for alphabetic text', () => {
  assert.equal(estimateTokens(''), 0);
  assert.equal(estimateTokens('abcd'), 1);
  assert.equal(estimateTokens('abcde'), 2);
  assert.equal(estimateTokens('x'.repeat(400)), 100);
  assert.equal(estimateTokens('ñandú über café'), 4);
});

test('one token per CJK character', () => {
  assert.equal(estimateTokens('会议纪要'), 4);
  assert.equal(estimateTokens('こんにちは'), 5);
  assert.equal(estimateTokens('안녕하세요'), 5);
  // Mixed: 2 Han characters + "ok " (3 other characters → 1).
  assert.equal(estimateTokens('ok 会议'), 3);
  // Characters outside the BMP (CJK Extension B) count once, not per UTF-16 unit.
  assert.equal(estimateTokens('𠀀𠀁'), 2);
});

test('messages add a fixed overhead each', () => {
  assert.equal(estimateMessagesTokens([]), 0);
  const messages = [
    { role: 'system' as const, content: 'abcd' },
    { role: 'user' as const, content: '' },
  ];
  assert.equal(estimateMessagesTokens(messages), 1 + 2 * MESSAGE_OVERHEAD_TOKENS);
});
