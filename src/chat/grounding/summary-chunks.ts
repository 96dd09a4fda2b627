/**
 * Cutting the work of a long summary into calls that fit the budget, and running them.
 */

import { segmentCost, truncateSegment, type GroundingSegment } from './transcript.js';

/** `fn` over `items`, at most `limit` calls at a time; results in the items' order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next;
      next += 1;
      results[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

/** Consecutive runs of segments whose formatted lines fit `budget`; a segment too long alone is cut. */
export function chunkSegments(segments: readonly GroundingSegment[], budget: number): GroundingSegment[][] {
  const chunks: GroundingSegment[][] = [];
  let current: GroundingSegment[] = [];
  let used = 0;
  for (const original of segments) {
    const segment = truncateSegment(original, budget);
    const cost = segmentCost(segment);
    if (current.length > 0 && used + cost > budget) {
      chunks.push(current);
      current = [];
      used = 0;
    }
    current.push(segment);
    used += cost;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/**
 * Groups of consecutive items whose costs fit `budget`. A group takes at least two items (only
 * the last may be left with one), so that merging always progresses: two partial summaries too
 * long to fit together are the one case where a merge call goes over budget.
 */
export function packForMerge(costs: number[], budget: number): number[][] {
  const groups: number[][] = [];
  let current: number[] = [];
  let used = 0;
  costs.forEach((cost, i) => {
    if (current.length >= 2 && used + cost > budget) {
      groups.push(current);
      current = [];
      used = 0;
    }
    current.push(i);
    used += cost;
  });
  if (current.length > 0) groups.push(current);
  return groups;
}
