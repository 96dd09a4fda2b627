import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  mergeWords,
  realignWords,
  rescaleWords,
  splitWords,
  type OpenSpan,
  type WordTiming,
} from '../../src/transcription/edits/words.js';

const w = (word: string, start: number, end: number, confidence?: number): WordTiming =>
  confidence === undefined ? { word, start, end } : { word, start, end, confidence };
const edited = (word: string, start: number, end: number): WordTiming => ({ word, start, end, edited: true });

// "the cat sat" as an engine gave it, inside the segment [0, 2].
const THE = w('the', 0.2, 0.4, 0.9);
const CAT = w('cat', 0.5, 0.9, 0.8);
const SAT = w('sat', 1.0, 1.4, 0.7);
const WORDS = [THE, CAT, SAT];
const SPAN: OpenSpan = { start: 0, end: 2 };
const NO_SPAN: OpenSpan = { start: null, end: null };

/** Engine words for a space-separated text: word i at [i, i + 0.5], so a kept word shows where it came from. */
const timed = (text: string) => text.split(' ').map((word, i) => w(word, i, i + 0.5, 0.5));

describe('realignWords', () => {
  const cases: Array<{ name: string; words: WordTiming[] | null; text: string; span: OpenSpan; want: WordTiming[] | null }> = [
    { name: 'unchanged text keeps everything', words: WORDS, text: 'the cat sat', span: SPAN, want: WORDS },
    { name: 'white space does not matter', words: WORDS, text: '  the \n cat\tsat ', span: SPAN, want: WORDS },
    {
      name: 'a word replaced in the middle fills the gap between its neighbours',
      words: WORDS,
      text: 'the dog sat',
      span: SPAN,
      want: [THE, edited('dog', 0.4, 1.0), SAT],
    },
    {
      name: 'two words replacing one share the gap evenly',
      words: WORDS,
      text: 'the big dog sat',
      span: SPAN,
      want: [THE, edited('big', 0.4, 0.7), edited('dog', 0.7, 1.0), SAT],
    },
    {
      name: 'insertion at the start runs from the span start',
      words: WORDS,
      text: 'oh the cat sat',
      span: SPAN,
      want: [edited('oh', 0, 0.2), THE, CAT, SAT],
    },
    {
      name: 'insertion at the end runs to the span end',
      words: WORDS,
      text: 'the cat sat down',
      span: SPAN,
      want: [THE, CAT, SAT, edited('down', 1.4, 2)],
    },
    {
      name: 'without a span, insertions at the ends stay at the first and last word times',
      words: WORDS,
      text: 'oh the cat sat down',
      span: NO_SPAN,
      want: [edited('oh', 0.2, 0.2), THE, CAT, SAT, edited('down', 1.4, 1.4)],
    },
    { name: 'deleted words are dropped', words: WORDS, text: 'the sat', span: SPAN, want: [THE, SAT] },
    {
      name: 'all words changed spread over the span',
      words: WORDS,
      text: 'a b c d',
      span: SPAN,
      want: [edited('a', 0, 0.5), edited('b', 0.5, 1), edited('c', 1, 1.5), edited('d', 1.5, 2)],
    },
    {
      name: 'all words changed, no span: spread from the first old start to the last old end',
      words: WORDS,
      text: 'a b c d',
      span: NO_SPAN,
      want: [edited('a', 0.2, 0.5), edited('b', 0.5, 0.8), edited('c', 0.8, 1.1), edited('d', 1.1, 1.4)],
    },
    {
      name: 'interpolated times are rounded to the millisecond',
      words: WORDS,
      text: 'a b c',
      span: { start: 0, end: 1 },
      want: [edited('a', 0, 0.333), edited('b', 0.333, 0.667), edited('c', 0.667, 1)],
    },
    {
      name: 'a punctuation change is a changed word',
      words: WORDS,
      text: 'the cat, sat',
      span: SPAN,
      want: [THE, edited('cat,', 0.4, 1.0), SAT],
    },
    {
      name: 'a kept word keeps its edited flag',
      words: [THE, edited('dog', 0.9, 1.0), SAT],
      text: 'the dog sat down',
      span: SPAN,
      want: [THE, edited('dog', 0.9, 1.0), SAT, edited('down', 1.4, 2)],
    },
    { name: 'null stays null', words: null, text: 'the cat sat', span: SPAN, want: null },
    { name: 'empty text has no words', words: WORDS, text: ' \n ', span: SPAN, want: [] },
    {
      name: 'no old words: spread over the span',
      words: [],
      text: 'one two',
      span: { start: 4, end: 5 },
      want: [edited('one', 4, 4.5), edited('two', 4.5, 5)],
    },
    { name: 'no old words and no span: nothing to time by', words: [], text: 'one two', span: NO_SPAN, want: null },
    {
      name: 'overlapping kept words leave an inserted word no room, never a backwards time',
      words: [w('a', 0, 1), w('b', 0.8, 1.5)],
      text: 'a x b',
      span: SPAN,
      want: [w('a', 0, 1), edited('x', 1, 1), w('b', 0.8, 1.5)],
    },
    {
      name: 'inserted words stay within the span even when kept words overrun it',
      words: [w('a', 0, 2.5)],
      text: 'a b',
      span: SPAN,
      want: [w('a', 0, 2.5), edited('b', 2, 2)],
    },
  ];
  for (const c of cases) {
    test(c.name, () => assert.deepEqual(realignWords(c.words, c.text, c.span), c.want));
  }

  // Repeated words: the copy kept is the one next to the words around it.
  const repeats: Array<{ name: string; old: string; text: string; kept: Array<number | null> }> = [
    { name: 'a deleted stutter keeps the "the" said before the noun', old: 'the the cat', text: 'the cat', kept: [1, 2] },
    { name: '"the cat the dog" → "the dog" keeps the second "the"', old: 'the cat the dog', text: 'the dog', kept: [2, 3] },
    { name: '"the dog the cat" → "the dog" keeps the first "the"', old: 'the dog the cat', text: 'the dog', kept: [0, 1] },
    { name: 'the kept "the" is the one before the kept "end"', old: 'go to the shop the end', text: 'go to the end', kept: [0, 1, 4, 5] },
    { name: 'an inserted stutter is the first copy', old: 'the cat', text: 'the the cat', kept: [null, 0, 1] },
    { name: 'a deleted repeat after the noun keeps the noun said with its article', old: 'the cat cat', text: 'the cat', kept: [0, 1] },
    { name: '"the the cat the" → "the the" keeps the two said together', old: 'the the cat the', text: 'the the', kept: [0, 1] },
    { name: 'repeats on both sides all match', old: 'the the the', text: 'the the the', kept: [0, 1, 2] },
  ];
  for (const c of repeats) {
    test(c.name, () => {
      const old = timed(c.old);
      const got = realignWords(old, c.text, NO_SPAN)!;
      assert.deepEqual(
        got.map((word) => (word.edited ? null : old.findIndex((o) => o.start === word.start))),
        c.kept,
      );
    });
  }

  test('random edits: as many words kept as the longest common subsequence, in order, times never backwards', () => {
    const lcsLength = (a: string[], b: string[]) => {
      let row = new Array<number>(b.length + 1).fill(0);
      for (const x of a) {
        const next = [0];
        b.forEach((y, j) => next.push(x === y ? row[j]! + 1 : Math.max(row[j + 1]!, next[j]!)));
        row = next;
      }
      return row[b.length]!;
    };
    let seed = 7;
    const random = (n: number) => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) % n;
    const vocab = ['the', 'cat', 'sat', 'on', 'a', 'mat'];
    for (let round = 0; round < 300; round++) {
      const oldText = Array.from({ length: 1 + random(12) }, () => vocab[random(vocab.length)]!);
      const newText = Array.from({ length: 1 + random(12) }, () => vocab[random(vocab.length)]!);
      const old = oldText.map((word, i) => w(word, i, i + 0.5));
      const got = realignWords(old, newText.join(' '), { start: 0, end: 20 })!;
      assert.deepEqual(got.map((o) => o.word), newText);
      const kept = got.filter((o) => !o.edited).map((o) => old.findIndex((x) => x.start === o.start));
      assert.equal(kept.length, lcsLength(oldText, newText), `${oldText.join(' ')} → ${newText.join(' ')}`);
      kept.forEach((k, i) => assert.ok(k >= 0 && (i === 0 || k > kept[i - 1]!)));
      got.forEach((o, i) => assert.ok(o.end >= o.start && (i === 0 || o.start >= got[i - 1]!.end)));
    }
  });

  test('long segments: one changed word in 1,200 is found exactly', () => {
    const old = Array.from({ length: 1_200 }, (_, i) => w(`w${i}`, i, i + 0.5, 0.5));
    const tokens = old.map((o) => o.word);
    tokens[600] = 'changed';
    const got = realignWords(old, tokens.join(' '), NO_SPAN)!;
    assert.deepEqual(got, old.map((o, i) => (i === 600 ? edited('changed', 599.5, 601) : o)));
  });

  test('long segments changed at both ends and throughout still keep the unchanged words in order', () => {
    // 30,000 words: an exact table would be 9e8 cells (gigabytes, seconds).
    const old = Array.from({ length: 30_000 }, (_, i) => w(`w${i}`, i, i + 0.5, 0.5));
    // Every tenth word changed, the first and last too, so that no long equal run at the ends helps.
    const tokens = old.map((o, i) => (i % 10 === 0 || i === old.length - 1 ? `x${i}` : o.word));
    // An exact table here would be gigabytes: finishing at all shows the bounded fallback ran.
    const got = realignWords(old, tokens.join(' '), { start: 0, end: 30_000 })!;
    assert.deepEqual(got.map((o) => o.word), tokens);
    got.forEach((o, i) => {
      if (tokens[i]!.startsWith('x')) assert.equal(o.edited, true, `${i}`);
      else assert.deepEqual(o, old[i], `${i}`);
      if (i > 0) assert.ok(o.start >= got[i - 1]!.start, `${i} goes backwards`);
    });
  });
});

describe('rescaleWords', () => {
  test('times map linearly from the old span to the new; flags and confidence stay', () => {
    const words = [w('a', 0, 0.5, 0.9), edited('b', 1, 2)];
    assert.deepEqual(rescaleWords(words, { start: 0, end: 2 }, { start: 10, end: 14 }), [
      w('a', 10, 11, 0.9),
      edited('b', 12, 14),
    ]);
  });

  test('a shift alone keeps durations, without floating-point noise', () => {
    assert.deepEqual(rescaleWords([w('a', 0.1, 0.3)], { start: 0.1, end: 0.3 }, { start: 0.2, end: 0.4 }), [w('a', 0.2, 0.4)]);
  });

  test('words outside the old span are brought inside the new one', () => {
    assert.deepEqual(rescaleWords([w('a', -1, 0.5), w('b', 1.5, 3)], { start: 0, end: 2 }, { start: 0, end: 1 }), [
      w('a', 0, 0.25),
      w('b', 0.75, 1),
    ]);
  });

  test('a zero-length old span spreads the words evenly', () => {
    const words = [w('a', 1, 1, 0.5), w('b', 1, 1), w('c', 1, 1)];
    assert.deepEqual(rescaleWords(words, { start: 1, end: 1 }, { start: 0, end: 3 }), [
      w('a', 0, 1, 0.5),
      w('b', 1, 2),
      w('c', 2, 3),
    ]);
  });

  test('an unchanged span returns equal copies; null stays null', () => {
    const got = rescaleWords(WORDS, { start: 0, end: 2 }, { start: 0, end: 2 })!;
    assert.deepEqual(got, WORDS);
    assert.notEqual(got[0], WORDS[0]);
    assert.equal(rescaleWords(null, { start: 0, end: 1 }, { start: 2, end: 3 }), null);
  });
});

describe('splitWords', () => {
  // "the cat sat down": t0 h1 e2 _3 c4 a5 t6 _7 s8 a9 t10 _11 d12 ...
  const TEXT = 'the cat sat down';
  const DOWN = w('down', 1.5, 1.9, 0.6);
  const ALL = [...WORDS, DOWN];

  test('at a word boundary', () => {
    for (const offset of [7, 8]) {
      assert.deepEqual(splitWords(ALL, TEXT, offset, SPAN), {
        left: { text: 'the cat', words: [THE, CAT] },
        right: { text: 'sat down', words: [SAT, DOWN] },
        at: 1.0,
      });
    }
  });

  test('inside a word the split moves to the end of that word', () => {
    for (const offset of [9, 10, 11]) {
      assert.deepEqual(splitWords(ALL, TEXT, offset, SPAN), {
        left: { text: 'the cat sat', words: [THE, CAT, SAT] },
        right: { text: 'down', words: [DOWN] },
        at: 1.5,
      });
    }
  });

  test('words that do not match the text are realigned first', () => {
    assert.deepEqual(splitWords(WORDS, 'the big cat sat', 8, SPAN), {
      left: { text: 'the big', words: [THE, edited('big', 0.4, 0.5)] },
      right: { text: 'cat sat', words: [CAT, SAT] },
      at: 0.5,
    });
  });

  test('without words the split time comes from the character position within the span', () => {
    assert.deepEqual(splitWords(null, 'abcd efgh', 4, { start: 1, end: 10 }), {
      left: { text: 'abcd', words: null },
      right: { text: 'efgh', words: null },
      at: 5,
    });
    assert.equal(splitWords(null, 'abcd efgh', 2, { start: 0, end: 9 }).at, 4);
  });

  test('without words and without both span ends there is no split time', () => {
    assert.equal(splitWords(null, 'abcd efgh', 4, { start: 0, end: null }).at, null);
    assert.equal(splitWords(null, 'abcd efgh', 4, NO_SPAN).at, null);
  });
});

describe('mergeWords', () => {
  test('the parts’ words one after another, as copies', () => {
    const parts = [{ words: [THE, CAT] }, { words: [] }, { words: [SAT] }];
    const got = mergeWords(parts)!;
    assert.deepEqual(got, WORDS);
    assert.notEqual(got[0], THE);
  });

  test('any part without words: the merged segment has none', () => {
    assert.equal(mergeWords([{ words: [THE] }, { words: null }, { words: [SAT] }]), null);
    assert.equal(mergeWords([{ words: null }, { words: null }]), null);
  });
});
