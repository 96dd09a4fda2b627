/**
 * What each edit does to a transcript's segment list, without I/O: every operation takes the
 * current segments (in order) and returns the new list, which the store then diffs and writes as
 * one version. Invalid edits throw 4xx AppErrors before anything is written.
 */

import type { VersionSegment } from '../../db/schema.js';
import { newId } from '../../db/ids.js';
import { AppError, errors } from '../../http/errors.js';
import { mergeWords, realignWords, rescaleWords, splitWords } from './words.js';

export const MAX_SEGMENT_TEXT = 10_000;
export const MAX_SPEAKER_LABEL = 100;

export interface SegmentPatch {
  id: string;
  text?: string;
  /** null clears the label. */
  speaker?: string | null;
  start?: number;
  end?: number;
}

function invalid(message: string, field: string): AppError {
  return errors.validation(message, [{ field, message }]);
}

function findIndex(segments: readonly VersionSegment[], id: string): number {
  const at = segments.findIndex((s) => s.id === id);
  if (at < 0) throw errors.notFound('Segment');
  return at;
}

function cleanText(text: string, field: string): string {
  const trimmed = text.trim();
  if (trimmed === '') throw invalid('A segment needs some text; merge it into a neighbour instead', field);
  if (trimmed.length > MAX_SEGMENT_TEXT) throw invalid(`At most ${MAX_SEGMENT_TEXT} characters per segment`, field);
  return trimmed;
}

export function cleanSpeaker(speaker: string | null, field: string): string | null {
  if (speaker === null) return null;
  const trimmed = speaker.trim();
  if (trimmed === '') throw invalid('A speaker label needs a name; send null to clear it', field);
  if (trimmed.length > MAX_SPEAKER_LABEL) throw invalid(`At most ${MAX_SPEAKER_LABEL} characters per speaker label`, field);
  return trimmed;
}

/** Positions follow the list order: 0, 1, 2, … */
function reindexed(segments: VersionSegment[]): VersionSegment[] {
  return segments.map((s, index) => (s.index === index ? s : { ...s, index }));
}

function patched(segment: VersionSegment, patch: SegmentPatch, field: string, duration: number | null): VersionSegment {
  let next: VersionSegment = { ...segment };
  if (patch.start !== undefined || patch.end !== undefined) {
    const start = patch.start ?? segment.start;
    const end = patch.end ?? segment.end;
    if (start === null || end === null) {
      throw invalid('This segment has no times yet: give both start and end', `${field}.${patch.start === undefined ? 'start' : 'end'}`);
    }
    if (start > end) throw invalid(`start (${start}) is after end (${end})`, `${field}.start`);
    // A little slack: engines round durations, and an end on the last frame is still inside.
    if (duration !== null && end > duration + 0.5) {
      throw invalid(`end (${end}) is past the end of the audio (${duration.toFixed(2)} s)`, `${field}.end`);
    }
    const words =
      segment.start !== null && segment.end !== null
        ? rescaleWords(segment.words, { start: segment.start, end: segment.end }, { start, end })
        : segment.words;
    next = { ...next, start, end, words };
  }
  if (patch.text !== undefined) {
    const text = cleanText(patch.text, `${field}.text`);
    if (text !== segment.text) next = { ...next, text, words: realignWords(next.words, text, { start: next.start, end: next.end }) };
  }
  if (patch.speaker !== undefined) next.speaker = cleanSpeaker(patch.speaker, `${field}.speaker`);
  return next;
}

/** One or several segments' text, speaker or times; each id at most once. */
export function applyPatches(
  segments: readonly VersionSegment[],
  patches: readonly SegmentPatch[],
  options: { duration: number | null; field: (i: number) => string },
): VersionSegment[] {
  const seen = new Set<string>();
  const next = [...segments];
  patches.forEach((patch, i) => {
    if (seen.has(patch.id)) throw invalid('A segment appears twice in one request', `${options.field(i)}.id`);
    seen.add(patch.id);
    const at = findIndex(next, patch.id);
    next[at] = patched(next[at]!, patch, options.field(i), options.duration);
  });
  return next;
}

/**
 * Cuts a segment in two at a character offset of its text (moved to the end of a word it falls in).
 * The first part keeps the segment's id; the second is a new segment right after it.
 */
export function splitSegment(segments: readonly VersionSegment[], segmentId: string, offset: number): VersionSegment[] {
  const at = findIndex(segments, segmentId);
  const segment = segments[at]!;
  if (offset <= 0 || offset >= segment.text.length) {
    throw invalid(`offset must be inside the segment's text (1 to ${segment.text.length - 1})`, 'offset');
  }
  const { left, right, at: time } = splitWords(segment.words, segment.text, offset, { start: segment.start, end: segment.end });
  if (left.text === '' || right.text === '') throw invalid('The split would leave an empty part', 'offset');
  const first: VersionSegment = { ...segment, text: left.text, words: left.words, end: time ?? segment.end };
  const second: VersionSegment = { ...segment, id: newId(), text: right.text, words: right.words, start: time ?? segment.start };
  return reindexed([...segments.slice(0, at), first, second, ...segments.slice(at + 1)]);
}

/**
 * Joins consecutive segments into the first of them: texts joined, times spanning all, words
 * concatenated. The first one's speaker stays (merging is how a wrong speaker turn is undone).
 * The engine's decoding figures describe the parts, not the whole, so they are dropped.
 */
export function mergeSegments(segments: readonly VersionSegment[], ids: readonly string[]): VersionSegment[] {
  if (new Set(ids).size !== ids.length) throw invalid('A segment appears twice', 'segment_ids');
  const positions = ids.map((id) => findIndex(segments, id)).sort((a, b) => a - b);
  const first = positions[0]!;
  if (positions.some((p, i) => p !== first + i)) throw invalid('Only consecutive segments can be merged', 'segment_ids');
  const parts = positions.map((p) => segments[p]!);
  const starts = parts.map((p) => p.start).filter((t): t is number => t !== null);
  const ends = parts.map((p) => p.end).filter((t): t is number => t !== null);
  const merged: VersionSegment = {
    ...parts[0]!,
    text: parts.map((p) => p.text).join(' '),
    start: starts.length > 0 ? Math.min(...starts) : null,
    end: ends.length > 0 ? Math.max(...ends) : null,
    words: mergeWords(parts),
    avg_logprob: null,
    compression_ratio: null,
    no_speech_prob: null,
    temperature: null,
  };
  return reindexed([...segments.slice(0, first), merged, ...segments.slice(first + parts.length)]);
}

/** Renames speaker labels everywhere at once (`SPEAKER_1` → `Ana`); every label must be in use. */
export function renameSpeakers(segments: readonly VersionSegment[], renames: Readonly<Record<string, string | null>>): VersionSegment[] {
  const used = new Set(segments.map((s) => s.speaker));
  const names = new Map<string, string | null>();
  for (const [from, to] of Object.entries(renames)) {
    if (!used.has(from)) {
      throw new AppError('speaker_not_found', `No segment has the speaker "${from}"`, [
        { field: `speakers.${from}`, message: 'no segment has this speaker' },
      ]);
    }
    names.set(from, cleanSpeaker(to, `speakers.${from}`));
  }
  return segments.map((s) => (s.speaker !== null && names.has(s.speaker) ? { ...s, speaker: names.get(s.speaker) ?? null } : s));
}
