import { describe, expect, test } from 'vitest';
import { clock, segmentAt } from './format';

// Three segments with a silent gap between the second and third, as engines leave them.
const segments = [
  { start: 0, end: 2.5 },
  { start: 2.5, end: 4 },
  { start: 6, end: 9 },
];

describe('segmentAt: which segment the player is in as time moves', () => {
  test('follows the player through the segments, boundaries belonging to the next one', () => {
    const seen = [0, 1, 2.49, 2.5, 3.99].map((time) => segmentAt(segments, time));
    expect(seen).toEqual([0, 0, 0, 1, 1]);
  });

  test('none in a gap between segments, before the first, or after the last', () => {
    expect(segmentAt(segments, 4)).toBe(-1);
    expect(segmentAt(segments, 5.9)).toBe(-1);
    expect(segmentAt(segments, 9)).toBe(-1);
    expect(segmentAt([{ start: 1, end: 2 }], 0.5)).toBe(-1);
  });

  test('the segment a citation seeks to is current at its start', () => {
    for (const [i, segment] of segments.entries()) expect(segmentAt(segments, segment.start)).toBe(i);
  });

  test('text entries (no times) are never current; an open-ended segment lasts', () => {
    expect(segmentAt([{ start: null, end: null }], 0)).toBe(-1);
    expect(segmentAt([{ start: 3, end: null }], 100)).toBe(0);
  });

  test('overlapping segments: the later start wins', () => {
    expect(segmentAt([{ start: 0, end: 5 }, { start: 2, end: 3 }], 2.5)).toBe(1);
  });
});

test('clock', () => {
  expect([clock(83.2), clock(3723), clock(null)]).toEqual(['1:23', '1:02:03', '–']);
});
