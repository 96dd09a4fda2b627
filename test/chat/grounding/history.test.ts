import assert from 'node:assert/strict';
import { test } from 'node:test';
import { trimHistory } from '../../../src/chat/grounding/history.js';
import { estimateMessagesTokens } from '../../../src/chat/grounding/tokens.js';
import type { LlmMessage } from '../../../src/chat/providers/provider.js';

const words = (n: number, tag: string) => `${tag} ${'word '.repeat(n)}`.trim();

const history: LlmMessage[] = [
  { role: 'user', content: words(40, 'q1') },
  { role: 'assistant', content: words(40, 'a1') },
  { role: 'user', content: words(40, 'q2') },
  { role: 'assistant', content: words(40, 'a2') },
  { role: 'user', content: words(10, 'note') },
  { role: 'user', content: words(40, 'q3') },
  { role: 'assistant', content: words(40, 'a3') },
];

const tags = (messages: LlmMessage[]) => messages.map((m) => m.content.split(' ')[0]);
const oneTurn = estimateMessagesTokens([history[0] as LlmMessage]);
const total = estimateMessagesTokens(history);

test('everything is kept when it fits', () => {
  const result = trimHistory(history, 10_000);
  assert.deepEqual(result, history);
  assert.notEqual(result, history);
});

test('the oldest turns go first, and what is kept fits', () => {
  const result = trimHistory(history, total - 2 * oneTurn);
  assert.deepEqual(tags(result), ['q2', 'a2', 'note', 'q3', 'a3']);
  assert.ok(estimateMessagesTokens(result) <= total - 2 * oneTurn);
});

test('an answer is not left without its question at the front', () => {
  // Dropping q1 alone would fit, but the turns would then open with a1.
  const result = trimHistory(history, total - oneTurn);
  assert.deepEqual(tags(result), ['q2', 'a2', 'note', 'q3', 'a3']);
});

test('the turns always open with the user: answers at the front go even when everything fits', () => {
  assert.deepEqual(tags(trimHistory(history.slice(1), 10_000)), ['q2', 'a2', 'note', 'q3', 'a3']);
});

test('no message is exempt: with little room only the newest fit, with none nothing does', () => {
  assert.deepEqual(tags(trimHistory(history, oneTurn)), []);
  assert.deepEqual(tags(trimHistory(history, 2 * oneTurn)), ['q3', 'a3']);
  assert.deepEqual(trimHistory(history, 0), []);
  assert.deepEqual(trimHistory(history, -5), []);
});

test('every budget is respected', () => {
  for (let budget = 0; budget <= total; budget += 7) {
    assert.ok(estimateMessagesTokens(trimHistory(history, budget)) <= budget, String(budget));
  }
});

test('the input is not modified', () => {
  const copy = structuredClone(history);
  trimHistory(history, 50);
  assert.deepEqual(history, copy);
});
