import assert from 'node:assert/strict';
import { test } from 'node:test';
import { estimateTokens } from '../../../src/chat/grounding/tokens.js';
import {
  formatSegment,
  formatSegments,
  formatTime,
  selectContext,
  termOverlapRank,
  terms,
  truncateSegment,
  type GroundingSegment,
  type RankFunction,
} from '../../../src/chat/grounding/transcript.js';

function seg(
  index: number,
  text: string,
  start: number | null = index * 5,
  end: number | null = index * 5 + 5,
): GroundingSegment {
  return { id: `id-${index}`, index, start, end, text };
}

test('times are mm:ss below an hour, h:mm:ss from an hour on', () => {
  assert.equal(formatTime(0), '00:00');
  assert.equal(formatTime(62.9), '01:02');
  assert.equal(formatTime(3599), '59:59');
  assert.equal(formatTime(3600), '1:00:00');
  assert.equal(formatTime(3723.4), '1:02:03');
  assert.equal(formatTime(36000), '10:00:00');
  assert.equal(formatTime(-3), '00:00');
});

test('segments are numbered by their index, one line each', () => {
  assert.equal(formatSegment(seg(12, 'Hello there.', 62, 67)), '[12] (01:02–01:07) Hello there.');
  assert.equal(formatSegment(seg(3, 'No times', null, null)), '[3] (—) No times');
  assert.equal(formatSegment(seg(4, 'Only a start', 5, null)), '[4] (00:05) Only a start');
  assert.equal(formatSegment(seg(5, '  two\n\nlines  ', 3725, 3730)), '[5] (1:02:05–1:02:10) two lines');
  assert.equal(formatSegments([seg(0, 'a', 0, 1), seg(1, 'b', 1, 2)]), '[0] (00:00–00:01) a\n[1] (00:01–00:02) b');
});

const topics = [
  'Welcome everyone to the weekly meeting.',
  'First, some news about the office move.',
  'The quarterly budget was approved by finance yesterday.',
  'Marketing spend stays the same as last year.',
  'We hired two new engineers for the mobile team.',
  'They start on Monday and will need laptops.',
  'Next, the website redesign is behind schedule.',
  'Design needs another two weeks for the mockups.',
  'Any other business before we close?',
  'Thanks everyone, see you next week.',
];
const transcript = topics.map((text, i) => seg(i, text));

test('the whole transcript when it fits, without asking the ranker', async () => {
  let ranked = 0;
  const rank: RankFunction = (q, s) => {
    ranked += 1;
    return termOverlapRank(q, s);
  };
  const shuffled = [transcript[3], transcript[0], transcript[1], transcript[2]] as GroundingSegment[];
  const result = await selectContext(shuffled, 'budget?', 10_000, rank);
  assert.equal(result.mode, 'whole');
  assert.deepEqual(
    result.segments.map((s) => s.index),
    [0, 1, 2, 3],
  );
  assert.equal(result.tokens, estimateTokens(formatSegments(result.segments)));
  assert.equal(ranked, 0);
});

test('over budget: the relevant segments and their neighbours, in transcript order, within budget', async () => {
  const budget = 60;
  assert.ok(estimateTokens(formatSegments(transcript)) > budget);
  const result = await selectContext(transcript, 'Was the budget approved?', budget, termOverlapRank);
  assert.equal(result.mode, 'retrieved');
  const indexes = result.segments.map((s) => s.index);
  assert.deepEqual(indexes, [1, 2, 3]);
  assert.ok(estimateTokens(formatSegments(result.segments)) <= budget);
  assert.equal(result.tokens, estimateTokens(formatSegments(result.segments)));
});

test('several hits are added by descending score while they fit, and sorted back', async () => {
  // A caller-supplied ranker (as Postgres full-text ranking would be): 7 first, then 4.
  const rank: RankFunction = async () =>
    new Map([
      [4, 0.5],
      [7, 0.9],
      [99, 5], // not a segment: ignored
    ]);
  // Line costs here: [3] 17, [4] 18, [5] 17, [6] 17, [7] 18, [8] 15 tokens.
  const roomy = await selectContext(transcript, 'anything', 102, rank);
  assert.deepEqual(
    roomy.segments.map((s) => s.index),
    [3, 4, 5, 6, 7, 8],
  );
  assert.ok(roomy.tokens <= 102);

  // One token less: [5], the last neighbour, no longer fits and is skipped.
  const less = await selectContext(transcript, 'anything', 101, rank);
  assert.deepEqual(
    less.segments.map((s) => s.index),
    [3, 4, 6, 7, 8],
  );

  // Room for the best hit and its neighbours only.
  const tight = await selectContext(transcript, 'anything', 50, rank);
  assert.deepEqual(
    tight.segments.map((s) => s.index),
    [6, 7, 8],
  );
  assert.ok(tight.tokens <= 50);
});

test('never over budget, whatever the budget', async () => {
  for (let budget = 1; budget <= 140; budget += 1) {
    const result = await selectContext(transcript, 'new engineers laptops', budget, termOverlapRank);
    assert.ok(result.segments.length >= 1, `budget ${budget}`);
    if (budget >= 7) assert.ok(result.tokens <= budget, `budget ${budget}: ${result.tokens}`);
    const indexes = result.segments.map((s) => s.index);
    assert.deepEqual(
      indexes,
      [...indexes].sort((a, b) => a - b),
    );
  }
});

test('nothing relevant: the beginning of the transcript', async () => {
  const result = await selectContext(transcript, 'zebra', 30, termOverlapRank);
  assert.equal(result.mode, 'retrieved');
  assert.equal(result.segments[0]?.index, 0);
  assert.ok(result.tokens <= 30);
});

test('one segment larger than the budget is cut to fit, so there is always one', async () => {
  const long = [seg(0, 'short intro'), seg(1, `${'budget '.repeat(200)}end`), seg(2, 'outro')];
  const result = await selectContext(long, 'budget', 40, termOverlapRank);
  assert.equal(result.segments.length, 1);
  assert.equal(result.segments[0]?.index, 1);
  assert.ok(result.segments[0]?.text.endsWith('…'));
  assert.ok(result.tokens <= 40);
  // The cut keeps the id and times: a citation still points at the real segment.
  assert.equal(result.segments[0]?.id, 'id-1');
  assert.equal(truncateSegment(long[0] as GroundingSegment, 100), long[0]);
});

test('an empty transcript selects nothing', async () => {
  assert.deepEqual(await selectContext([], 'q', 10, termOverlapRank), { mode: 'whole', segments: [], tokens: 0 });
});

test('term overlap: lowercase, accent-insensitive, without stopwords, rarer words weigh more', () => {
  assert.deepEqual(terms('¿Cuál es el PRESUPUESTO de la compañía?'), ['presupuesto', 'compania']);
  const segments = [
    seg(0, 'El presupuesto de la Compañía fue aprobado.'),
    seg(1, 'La compania tiene oficinas nuevas.'),
    seg(2, 'Hablamos del tiempo y de la lluvia.'),
    seg(3, 'La compañía crece.'),
  ];
  const scores = termOverlapRank('¿Cuál es el presupuesto de la compañia?', segments);
  assert.equal(scores.has(2), false, 'only stopwords in common');
  assert.ok((scores.get(0) ?? 0) > (scores.get(1) ?? 0), 'both terms beat one');
  assert.ok((scores.get(1) ?? 0) > 0);
  assert.equal(scores.get(1), scores.get(3));
  // Plurals and short endings still match.
  assert.ok(termOverlapRank('budgets', [seg(0, 'The budget.')]).has(0));
  assert.equal(termOverlapRank('the of and', segments).size, 0);
});

test('term overlap works for CJK text without spaces', () => {
  const segments = [seg(0, '我们讨论了预算问题。'), seg(1, '明天下雨。')];
  const scores = termOverlapRank('预算是多少？', segments);
  assert.ok(scores.has(0));
  assert.equal(scores.has(1), false);
});
