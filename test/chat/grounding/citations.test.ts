import assert from 'node:assert/strict';
import { test } from 'node:test';
import { citationsForIndexes, extractCitations } from '../../../src/chat/grounding/citations.js';
import type { GroundingSegment } from '../../../src/chat/grounding/transcript.js';

const segments: GroundingSegment[] = [2, 3, 4, 5, 6, 10].map((index) => ({
  id: `seg-${index}`,
  index,
  start: index * 10,
  end: index * 10 + 9.5,
  text: `  Text of segment ${index}.  `,
}));

const indexes = (answer: string) =>
  extractCitations(answer, segments).citations.map((c) => Number(c.segment_id.slice(4)));

test('valid citations are kept in the text and returned once, by index, with the segment', () => {
  const { content, citations } = extractCitations('Budget approved [4][3]. Confirmed later [3].', segments);
  assert.equal(content, 'Budget approved [4][3]. Confirmed later [3].');
  assert.deepEqual(citations, [
    { segment_id: 'seg-3', start: 30, end: 39.5, text: 'Text of segment 3.' },
    { segment_id: 'seg-4', start: 40, end: 49.5, text: 'Text of segment 4.' },
  ]);
});

test('lists and ranges are parsed', () => {
  assert.deepEqual(indexes('See [2, 5].'), [2, 5]);
  assert.deepEqual(indexes('See [2;6].'), [2, 6]);
  assert.deepEqual(indexes('See [3-5].'), [3, 4, 5]);
  assert.deepEqual(indexes('See [5–3].'), [3, 4, 5]);
  assert.deepEqual(indexes('See [ 2 , 4-6 ][10].'), [2, 4, 5, 6, 10]);
  // A range over a gap cites only the segments that exist.
  assert.deepEqual(indexes('See [6-10].'), [6, 10]);
});

test('invented numbers are dropped from the citations and from the text', () => {
  const answer = 'The budget was approved [99]. It was [3][99] final [98][4], per [3, 99] and [97-99].';
  const { content, citations } = extractCitations(answer, segments);
  assert.equal(content, 'The budget was approved. It was [3] final [4], per [3] and.');
  assert.deepEqual(
    citations.map((c) => c.segment_id),
    ['seg-3', 'seg-4'],
  );
});

test('removing a marker leaves clean prose', () => {
  const clean = (answer: string) => extractCitations(answer, segments).content;
  assert.equal(clean('claim [99] and more'), 'claim and more');
  assert.equal(clean('claim[99] and more'), 'claim and more');
  assert.equal(clean('claim [99]\nnext [3]'), 'claim\nnext [3]');
  assert.equal(clean('[99] Starts here.'), 'Starts here.');
  assert.equal(clean('- one [99]\n[98] two'), '- one\ntwo');
  assert.equal(clean('a [99][4] b'), 'a [4] b');
  assert.equal(clean('a [4] [99].'), 'a [4].');
});

test('a range with an invented end is narrowed to the segments that exist', () => {
  const { content, citations } = extractCitations('Over [2-9].', segments);
  assert.equal(content, 'Over [2-6].');
  assert.equal(citations.length, 5);
  assert.equal(extractCitations('Over [5-9].', segments).content, 'Over [5, 6].');
});

test('code, Markdown links and footnotes are not citations', () => {
  const answer = 'Use `arr[99]` here:\n```js\nx[98] = 1;\n```\nSee [3](https://example.com) and [^1] and [4].';
  const { content, citations } = extractCitations(answer, segments);
  assert.equal(content, answer);
  assert.deepEqual(
    citations.map((c) => c.segment_id),
    ['seg-4'],
  );
});

test('no citations, no segments', () => {
  assert.deepEqual(extractCitations('Nothing here.', segments), { content: 'Nothing here.', citations: [] });
  assert.deepEqual(extractCitations('Invented [1].', []), { content: 'Invented.', citations: [] });
});

test('citation text is trimmed to 300 characters', () => {
  const long: GroundingSegment = { id: 'long', index: 0, start: null, end: null, text: `${'word '.repeat(100)}` };
  const [citation] = citationsForIndexes([0, 0, 7], [long]);
  assert.ok(citation);
  assert.equal(Array.from(citation.text).length, 300);
  assert.ok(citation.text.endsWith('…'));
  assert.equal(citation.start, null);
});
