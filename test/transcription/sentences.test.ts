import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_SEGMENTS, splitSentences, splitSpokenSentences } from '../../src/transcription/sentences.js';

test('splits on sentence ends, keeping abbreviations and decimals whole', async () => {
  assert.deepEqual(await splitSentences('Hello Mr. Smith. The price is 3.50 dollars! Is that right?', 'en'), [
    'Hello Mr. Smith.',
    'The price is 3.50 dollars!',
    'Is that right?',
  ]);
});

test('Spanish inverted marks and line breaks', async () => {
  assert.deepEqual(await splitSentences('¿Qué tal?\n¡Muy bien!   Gracias.', 'es'), ['¿Qué tal?', '¡Muy bien!', 'Gracias.']);
});

test('collapses whitespace and drops empty pieces', async () => {
  assert.deepEqual(await splitSentences('  One.\n\n\n  Two   words.  ', null), ['One.', 'Two words.']);
  assert.deepEqual(await splitSentences('   \n ', null), []);
});

test('an invalid language tag falls back to the root rules', async () => {
  assert.deepEqual(await splitSentences('A. B.', '!!'), ['A.', 'B.']);
});

test('text without punctuation is cut near word boundaries, never above 1000 characters', async () => {
  const words = Array.from({ length: 600 }, (_, i) => `word${i}`).join(' ');
  const parts = await splitSentences(words, 'en');
  assert.ok(parts.length >= 4);
  for (const part of parts) assert.ok(part.length <= 1000, `${part.length}`);
  assert.equal(parts.join(' '), words);
});

/** The sentences Intl finds in the whole text at once, whitespace collapsed as splitSentences does. */
function wholeTextSentences(text: string): string[] {
  const segmenter = new Intl.Segmenter('en', { granularity: 'sentence' });
  return Array.from(segmenter.segment(text), (s) => s.segment.replace(/\s+/g, ' ').trim()).filter((s) => s !== '');
}

test('long text is split window by window exactly as the whole text would be', async () => {
  // Sentences of many lengths, a lower-case continuation after a full stop, and non-BMP characters,
  // so that window edges fall everywhere: inside sentences, words and surrogate pairs.
  const sentences = Array.from({ length: 120 }, (_, i) => {
    const words = Array.from({ length: 1 + ((i * 7) % 23) }, (_, j) => (j % 11 === 3 ? '\u{1F600}' : `w${i}x${j}`));
    return `${words.join(' ')}${i % 5 === 0 ? '. and so' : ''}${i % 3 === 0 ? '?' : '.'}`;
  });
  const text = sentences.join('  ');
  assert.ok(text.length > 5_000, `${text.length}`);
  assert.deepEqual(await splitSentences(text, 'en'), wholeTextSentences(text));
});

test('a transcript of very many short sentences is packed into at most MAX_SEGMENTS segments', async () => {
  const text = 'Word word word. '.repeat(MAX_SEGMENTS * 2 + 17);
  const parts = await splitSentences(text, 'en');
  assert.ok(parts.length <= MAX_SEGMENTS, `${parts.length}`);
  assert.ok(parts.length > MAX_SEGMENTS / 2, `${parts.length}`);
  assert.equal(parts.join(' '), text.trim());
});

test('speaker labels: only `Name:` then whitespace at a line start; text without them splits exactly as before', async () => {
  const prose = 'Note the time 10:30. See https://example.com now.\nA label longer than forty characters is no label: really.';
  assert.deepEqual(await splitSpokenSentences(prose, 'en'), (await splitSentences(prose, 'en')).map((text) => ({ speaker: null, text })));
  assert.deepEqual(await splitSpokenSentences('Intro line.\n  Dr. Ana García : Hola. ¿Qué tal?\r\nB-2: Bien.', 'es'), [
    { speaker: null, text: 'Intro line.' },
    { speaker: 'Dr. Ana García', text: 'Hola.' },
    { speaker: 'Dr. Ana García', text: '¿Qué tal?' },
    { speaker: 'B-2', text: 'Bien.' },
  ]);
});

test('many short turns: linear, at most MAX_SEGMENTS, and no one’s words lose their name', async () => {
  const turns = MAX_SEGMENTS * 3;
  const text = Array.from({ length: turns }, (_, i) => `${i % 2 ? 'Bob' : 'Ana'}: Line ${i}.`).join('\n');
  const started = performance.now();
  const parts = await splitSpokenSentences(text, 'en');
  const ms = performance.now() - started;
  assert.ok(parts.length <= MAX_SEGMENTS && parts.length > MAX_SEGMENTS / 2, `${parts.length}`);
  assert.ok(parts.every((p) => p.speaker === null && /^(Ana|Bob): Line \d+\./.test(p.text)), 'mixed segments keep each label');
  assert.equal(parts.map((p) => p.text).join(' ').match(/(Ana|Bob): /g)!.length, turns);
  // Whole-text segmentation would be quadratic: minutes here. Windowed, a second or so on a busy machine.
  assert.ok(ms < 10_000, `${ms} ms`);

  const long = Array.from({ length: MAX_SEGMENTS * 2 }, (_, i) => `${i < MAX_SEGMENTS ? 'Ana' : 'Bob'}: Line ${i}.`).join('\n');
  const packed = await splitSpokenSentences(long, 'en');
  assert.ok(packed.length <= MAX_SEGMENTS + 1, `${packed.length}`);
  assert.ok(packed.every((p) => p.speaker === 'Ana' || p.speaker === 'Bob'), 'long turns are packed within each speaker');
});
