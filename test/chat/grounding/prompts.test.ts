import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildGroundedMessages, groundedSystemPrompt, languageLabel } from '../../../src/chat/grounding/prompts.js';
import type { LlmMessage } from '../../../src/chat/providers/provider.js';

test('the system prompt asks for grounded, cited answers in the language of the question', () => {
  const prompt = groundedSystemPrompt({ title: 'Weekly sync', language: 'es', mode: 'whole' });
  assert.match(prompt, /transcript/);
  assert.match(prompt, /"Weekly sync"/);
  assert.match(prompt, /Spanish/);
  assert.match(prompt, /\[3\]\[4\]/);
  assert.match(prompt, /does not contain the answer|transcript does not say/);
  assert.match(prompt, /language of the question/);
  assert.match(prompt, /whole transcript is shown/);
  assert.doesNotMatch(prompt, /excerpts/);
});

test('retrieved mode says only excerpts are shown; no language line without a language', () => {
  const prompt = groundedSystemPrompt({ title: '', mode: 'retrieved' });
  assert.match(prompt, /Only excerpts/);
  assert.match(prompt, /"Untitled"/);
  assert.doesNotMatch(prompt, /The recording is in/);
});

test('language labels', () => {
  assert.equal(languageLabel('en'), 'English');
  assert.equal(languageLabel(null), null);
  assert.equal(languageLabel(undefined), null);
  assert.equal(languageLabel('!!'), '!!');
});

test('messages: system prompt with the transcript, then history, then the question', () => {
  const history: LlmMessage[] = [
    { role: 'user', content: 'Who spoke first?' },
    { role: 'assistant', content: 'Ana [0].' },
  ];
  const messages = buildGroundedMessages({
    system: 'SYSTEM',
    transcriptBlock: '[0] (00:00–00:05) Hola.',
    history,
    question: 'And then?',
  });
  assert.equal(messages.length, 4);
  assert.equal(messages[0]?.role, 'system');
  assert.equal(messages[0]?.content, 'SYSTEM\n\n<transcript>\n[0] (00:00–00:05) Hola.\n</transcript>');
  assert.deepEqual(messages.slice(1, 3), history);
  assert.deepEqual(messages[3], { role: 'user', content: 'And then?' });
  // The history array is copied, not shared.
  assert.notEqual(messages[1], history[0]);
});

test('an empty transcript block is said to be empty', () => {
  const [system] = buildGroundedMessages({ system: 'S', transcriptBlock: '  ', history: [], question: 'q' });
  assert.match(system?.content ?? '', /The transcript is empty/);
});
