import type { SegmentChange, VersionSegment } from '../../db/schema.js';

/** The fields a version's change list reports; words follow text and times, so they are left out. */
const REPORTED = ['index', 'start', 'end', 'text', 'speaker', 'avg_logprob', 'compression_ratio', 'no_speech_prob', 'temperature'] as const;
type Reported = (typeof REPORTED)[number];
type Fields = Partial<Pick<VersionSegment, Reported>>;

function pick(segment: VersionSegment): Fields {
  const fields: Fields = {};
  for (const key of REPORTED) (fields as Record<Reported, unknown>)[key] = segment[key];
  return fields;
}

export function sameWords(a: VersionSegment['words'], b: VersionSegment['words']): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * What changed from `before` to `after`, segment by segment (matched by id): fields updated,
 * segments inserted (a split's second part) and deleted (merged away). Empty when nothing did.
 */
export function diffSegments(before: readonly VersionSegment[], after: readonly VersionSegment[]): SegmentChange[] {
  const old = new Map(before.map((s) => [s.id, s]));
  const changes: SegmentChange[] = [];
  for (const segment of after) {
    const previous = old.get(segment.id);
    old.delete(segment.id);
    if (!previous) {
      changes.push({ segment_id: segment.id, op: 'insert', after: pick(segment) });
      continue;
    }
    const was: Fields = {};
    const now: Fields = {};
    for (const key of REPORTED) {
      if (previous[key] !== segment[key]) {
        (was as Record<Reported, unknown>)[key] = previous[key];
        (now as Record<Reported, unknown>)[key] = segment[key];
      }
    }
    const wordsChanged = !sameWords(previous.words, segment.words);
    if (Object.keys(now).length > 0 || wordsChanged) changes.push({ segment_id: segment.id, op: 'update', before: was, after: now });
  }
  for (const removed of old.values()) changes.push({ segment_id: removed.id, op: 'delete', before: pick(removed) });
  return changes;
}
