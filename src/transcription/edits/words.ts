/**
 * Word timings across transcript edits. Pure: the edit routes load a segment, call these and store
 * what they return. Words whose text survives an edit keep the engine's times; new or changed words
 * get times spread over the gap they fill and `edited: true`, so nobody mistakes them for measured ones.
 */
import type { WordTiming } from '../../db/schema.js';

export type { WordTiming };

export interface OpenSpan {
  start: number | null;
  end: number | null;
}

export interface Span {
  start: number;
  end: number;
}

export interface SplitHalf {
  text: string;
  words: WordTiming[] | null;
}

/** Past this many table cells the alignment stops being exact rather than allocate a huge table. */
const MAX_TABLE_CELLS = 1_000_000;

/** How far ahead the fallback alignment looks in the old words for a new token. */
const GREEDY_LOOKAHEAD = 16;

/** The words of `text` as they are stored: split on white space, nothing else touched ("hello," stays). */
export function wordTokens(text: string): string[] {
  return text.split(/\s+/).filter((token) => token !== '');
}

/*
 * Interpolated times are rounded to the millisecond (subtitle formats cannot show more, and
 * 1.3333333333 in a reply is noise), then clamped so that rounding never leaves [lo, hi].
 */
function roundWithin(t: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, Math.round(t * 1000) / 1000));
}

/** `count` consecutive [start, end] pairs cutting [lo, hi] into equal parts. */
function spread(count: number, lo: number, hi: number): Array<[number, number]> {
  const at = (i: number) => (i === 0 ? lo : i === count ? hi : roundWithin(lo + ((hi - lo) * i) / count, lo, hi));
  return Array.from({ length: count }, (_, i) => [at(i), at(i + 1)]);
}

/**
 * For each new token, the index of the old word it keeps, or -1. A longest common subsequence on
 * exact text; among equally long ones, the one with the most neighbouring pairs kept together, so
 * that deleting one "the" of "the cat the dog" → "the dog" keeps the "the" that was said before "dog".
 */
function lcsMatch(old: readonly string[], tokens: readonly string[]): Int32Array {
  const n = old.length;
  const m = tokens.length;
  const match = new Int32Array(m).fill(-1);
  if (n === 0 || m === 0) return match;
  // Score = kept words * bonus + kept neighbouring pairs; the pairs (< bonus) only break ties.
  const bonus = Math.min(n, m) + 1;
  const width = m + 1;
  // best[i][j]: best score for old[0, i) against tokens[0, j); ending[i][j]: the same, ending on old[i-1] = tokens[j-1].
  const best = new Int32Array((n + 1) * width);
  const ending = new Int32Array((n + 1) * width).fill(-1);
  for (let i = 1; i <= n; i++) {
    for (let j = 1; j <= m; j++) {
      const here = i * width + j;
      const diagonal = here - width - 1;
      if (old[i - 1] === tokens[j - 1]) {
        const run = ending[diagonal]! >= 0 ? ending[diagonal]! + bonus + 1 : -1;
        ending[here] = Math.max(best[diagonal]! + bonus, run);
      }
      best[here] = Math.max(ending[here]!, best[here - width]!, best[here - 1]!);
    }
  }
  let i = n;
  let j = m;
  let inRun = false;
  while (i > 0 && j > 0) {
    const here = i * width + j;
    const diagonal = here - width - 1;
    if (inRun || (ending[here]! >= 0 && ending[here] === best[here])) {
      match[j - 1] = i - 1;
      inRun = ending[diagonal]! >= 0 && ending[here] === ending[diagonal]! + bonus + 1;
      i--;
      j--;
    } else if (best[here] === best[here - width]) {
      i--;
    } else {
      j--;
    }
  }
  return match;
}

/**
 * Alignment for segments too long for the table: equal runs at both ends are kept (that is exact),
 * the middle goes through the table when it fits, else each token takes the next equal old word
 * within a short look-ahead.
 */
function fallbackMatch(old: readonly string[], tokens: readonly string[]): Int32Array {
  const match = new Int32Array(tokens.length).fill(-1);
  let head = 0;
  while (head < old.length && head < tokens.length && old[head] === tokens[head]) {
    match[head] = head;
    head++;
  }
  let tail = 0;
  while (
    tail < old.length - head &&
    tail < tokens.length - head &&
    old[old.length - 1 - tail] === tokens[tokens.length - 1 - tail]
  ) {
    match[tokens.length - 1 - tail] = old.length - 1 - tail;
    tail++;
  }
  const oldMiddle = old.slice(head, old.length - tail);
  const newMiddle = tokens.slice(head, tokens.length - tail);
  if (oldMiddle.length * newMiddle.length <= MAX_TABLE_CELLS) {
    lcsMatch(oldMiddle, newMiddle).forEach((k, j) => {
      if (k >= 0) match[head + j] = head + k;
    });
    return match;
  }
  let next = 0;
  newMiddle.forEach((token, j) => {
    const limit = Math.min(oldMiddle.length, next + GREEDY_LOOKAHEAD);
    for (let k = next; k < limit; k++) {
      if (oldMiddle[k] === token) {
        match[head + j] = head + k;
        next = k + 1;
        return;
      }
    }
  });
  return match;
}

function clampToSpan(t: number, span: OpenSpan): number {
  if (span.start !== null && t < span.start) t = span.start;
  if (span.end !== null && t > span.end) t = span.end;
  return t;
}

/**
 * Word timings for a segment whose text became `text`. Null stays null (the engine gave no word
 * times and none are invented); empty text gives []. Words also stay null when there is nothing to
 * time new words by: no old words and no span (a text entry).
 */
export function realignWords(words: readonly WordTiming[] | null, text: string, span: OpenSpan): WordTiming[] | null {
  if (words === null) return null;
  const tokens = wordTokens(text);
  if (tokens.length === 0) return [];
  if (words.length === 0 && span.start === null && span.end === null) return null;
  const old = words.map((w) => w.word);
  const match =
    old.length * tokens.length <= MAX_TABLE_CELLS ? lcsMatch(old, tokens) : fallbackMatch(old, tokens);
  const kept: Array<WordTiming | null> = Array.from(match, (k) => (k >= 0 ? { ...words[k]! } : null));
  const firstStart = words[0]?.start ?? null;
  const lastEnd = words[words.length - 1]?.end ?? null;
  const out: WordTiming[] = [];
  for (let j = 0; j < tokens.length; ) {
    const keep = kept[j];
    if (keep) {
      out.push(keep);
      j++;
      continue;
    }
    let stop = j;
    while (stop < tokens.length && !kept[stop]) stop++;
    const left = out[out.length - 1]?.end ?? span.start ?? firstStart;
    const right = kept[stop]?.start ?? span.end ?? lastEnd;
    const lo = clampToSpan(left ?? right ?? 0, span);
    // Kept words may overlap (engines do that); an inserted word then has no room and gets none.
    const hi = Math.max(lo, clampToSpan(right ?? lo, span));
    for (const [start, end] of spread(stop - j, lo, hi)) out.push({ word: tokens[j++]!, start, end, edited: true });
  }
  return out;
}

/**
 * Word timings for a segment whose start/end moved from `from` to `to`: times map linearly, and
 * stay inside the new span. All words of a zero-length old span share one instant, so they are
 * spread evenly over the new one instead.
 */
export function rescaleWords(words: readonly WordTiming[] | null, from: Span, to: Span): WordTiming[] | null {
  if (words === null) return null;
  if (from.start === to.start && from.end === to.end) return words.map((w) => ({ ...w }));
  const lo = to.start;
  const hi = Math.max(to.start, to.end);
  if (from.end <= from.start) {
    return spread(words.length, lo, hi).map(([start, end], i) => ({ ...words[i]!, start, end }));
  }
  const scale = (hi - lo) / (from.end - from.start);
  const map = (t: number) => roundWithin(lo + (t - from.start) * scale, lo, hi);
  return words.map((w) => ({ ...w, start: map(w.start), end: map(w.end) }));
}

/** Where a split at `offset` really cuts: a cut inside a word moves to that word's end. */
function snapToWordEnd(text: string, offset: number): number {
  let cut = Math.max(0, Math.min(text.length, offset));
  while (cut > 0 && cut < text.length && /\S/.test(text[cut - 1]!) && /\S/.test(text[cut]!)) cut++;
  return cut;
}

/**
 * Splits a segment at character `offset` (moved to the end of the word it falls in). The caller
 * validates the offset and refuses an empty half. `at` is the time the second half starts: its
 * first word's start when there are words, else the cut's share of the text applied to the span
 * when both ends are known, else null.
 */
export function splitWords(
  words: readonly WordTiming[] | null,
  text: string,
  offset: number,
  span: OpenSpan,
): { left: SplitHalf; right: SplitHalf; at: number | null } {
  const cut = snapToWordEnd(text, offset);
  const leftText = text.slice(0, cut).trim();
  const rightText = text.slice(cut).trim();
  // The cut is at white space (or an end), so the halves' tokens are the whole text's, in two runs.
  const aligned = realignWords(words, text, span);
  const leftCount = wordTokens(leftText).length;
  const leftWords = aligned?.slice(0, leftCount) ?? null;
  const rightWords = aligned?.slice(leftCount) ?? null;
  let at: number | null = rightWords?.[0]?.start ?? null;
  if (at === null && span.start !== null && span.end !== null && text.length > 0) {
    const hi = Math.max(span.start, span.end);
    at = roundWithin(span.start + ((hi - span.start) * cut) / text.length, span.start, hi);
  }
  return { left: { text: leftText, words: leftWords }, right: { text: rightText, words: rightWords }, at };
}

/**
 * Word timings for segments merged in the given order: their words one after another. When any
 * part has no word times (null) the merged segment has none either, rather than times for part of
 * its text only.
 */
export function mergeWords(parts: ReadonlyArray<{ words: readonly WordTiming[] | null }>): WordTiming[] | null {
  const merged: WordTiming[] = [];
  for (const part of parts) {
    if (part.words === null) return null;
    for (const w of part.words) merged.push({ ...w });
  }
  return merged;
}
