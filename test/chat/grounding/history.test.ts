import assert from 'node:assert/strict';
import { test } from 'node:test';
import { trimHistory } from '../../../src/chat/grounding/history.js';
import { estimateMessagesTokens } from '../../../src/chat/grounding/tokens.js';
import type { LlmMessage } from '../../../src/chat/providers/provider.js';

const words = (n: number, tag: string) => `${tag} ${'word '.repeat(n)}`.trim();

const conversation: LlmMessage[] = [
  { role: 'system', content: words(40, 'rules') },
  { role: 'user', content: words(40, 'q1') },
  { role: 'assistant', content: words(40, 'a1') },
  { role: 'user', content: words(40, 'q2') },
  { role: 'assistant', content: words(40, 'a2') },
  { role: 'system', content: words(10, 'note') },
  { role: 'user', content: words(40, 'q3') },
];

const tags = (messages: LlmMessage[]) => messages.map((m) => m.content.split(' ')[0]);

test('everything is kept when it fits', () => {
  const result = trimHistory(conversation, 10_000);
  assert.deepEqual(result, conversation);
  assert.notEqual(result, conversation);
});

test('the oldest turns go first; system messages and the newest question stay', () => {
  const total = estimateMessagesTokens(conversation);
  const oneTurn = estimateMessagesTokens([conversation[1] as LlmMessage]);
  // Room for all but the first question and its answer.
  const result = trimHistory(conversation, total - 2 * oneTurn);
  assert.deepEqual(tags(result), ['rules', 'q2', 'a2', 'note', 'q3']);
  assert.ok(estimateMessagesTokens(result) <= total - 2 * oneTurn);
});

test('an answer is not left without its question at the front', () => {
  const total = estimateMessagesTokens(conversation);
  const oneTurn = estimateMessagesTokens([conversation[1] as LlmMessage]);
  // Dropping q1 alone would fit, but the conversation would then open with a1.
  const result = trimHistory(conversation, total - oneTurn);
  assert.deepEqual(tags(result), ['rules', 'q2', 'a2', 'note', 'q3']);
});

test('the newest user message is never dropped, even over budget', () => {
  const result = trimHistory(conversation, 1);
  assert.deepEqual(tags(result), ['rules', 'note', 'q3']);
});

test('the input is not modified', () => {
  const copy = structuredClone(conversation);
  trimHistory(conversation, 50);
  assert.deepEqual(conversation, copy);
});
