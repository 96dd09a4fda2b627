import assert from 'node:assert/strict';
import { test } from 'node:test';
import { splitSentences } from '../../src/transcription/sentences.js';

test('splits on sentence ends, keeping abbreviations and decimals whole', () => {
  assert.deepEqual(splitSentences('Hello Mr. Smith. The price is 3.50 dollars! Is that right?', 'en'), [
    'Hello Mr. Smith.',
    'The price is 3.50 dollars!',
    'Is that right?',
  ]);
});

test('Spanish inverted marks and line breaks', () => {
  assert.deepEqual(splitSentences('¿Qué tal?\n¡Muy bien!   Gracias.', 'es'), ['¿Qué tal?', '¡Muy bien!', 'Gracias.']);
});

test('collapses whitespace and drops empty pieces', () => {
  assert.deepEqual(splitSentences('  One.\n\n\n  Two   words.  ', null), ['One.', 'Two words.']);
  assert.deepEqual(splitSentences('   \n ', null), []);
});

test('an invalid language tag falls back to the root rules', () => {
  assert.deepEqual(splitSentences('A. B.', '!!'), ['A.', 'B.']);
});

test('text without punctuation is cut near word boundaries, never above 1000 characters', () => {
  const words = Array.from({ length: 600 }, (_, i) => `word${i}`).join(' ');
  const parts = splitSentences(words, 'en');
  assert.ok(parts.length >= 4);
  for (const part of parts) assert.ok(part.length <= 1000, `${part.length}`);
  assert.equal(parts.join(' '), words);
});
