/**
 * Segment citations in a model's answer: `[3]`, `[3][4]`, `[3, 4]`, `[3-5]`. Only numbers that
 * are indexes of the segments the model was shown count; invented ones are dropped, from the
 * citations and from the text. Code (fenced blocks, `inline`) is left untouched.
 */

import type { Citation } from '../../db/schema.js';
import type { GroundingSegment } from './transcript.js';

export type { Citation };

export const CITATION_TEXT_LIMIT = 300;

export interface ExtractedCitations {
  /** The answer with invented citation numbers removed. */
  content: string;
  /** Cited segments, each once, by ascending index. */
  citations: Citation[];
}

// One bracket group of numbers and ranges, not a Markdown link `[3](url)`.
const MARKER = /\[\s*(\d{1,9}(?:\s*[-–—]\s*\d{1,9})?(?:\s*[,;]\s*\d{1,9}(?:\s*[-–—]\s*\d{1,9})?)*)\s*\](?!\()/g;
const CODE = /(```[\s\S]*?(?:```|$)|`[^`\n]+`)/;
const CLOSING = /[.,;:!?)\]}»”’"'…]/;

function clip(text: string, limit: number): string {
  const trimmed = text.trim();
  const chars = Array.from(trimmed);
  if (chars.length <= limit) return trimmed;
  return `${chars
    .slice(0, limit - 1)
    .join('')
    .trimEnd()}…`;
}

/** Citations for the given indexes that exist among `segments`, each once, by ascending index. */
export function citationsForIndexes(indexes: Iterable<number>, segments: readonly GroundingSegment[]): Citation[] {
  const byIndex = new Map(segments.map((s) => [s.index, s]));
  const wanted = [...new Set(indexes)].filter((i) => byIndex.has(i)).sort((a, b) => a - b);
  return wanted.map((i) => {
    const s = byIndex.get(i) as GroundingSegment;
    const citation: Citation = { segment_id: s.id, start: s.start, end: s.end, text: clip(s.text, CITATION_TEXT_LIMIT) };
    return s.recordingId ? { ...citation, recording_id: s.recordingId } : citation;
  });
}

/** `[3-5]` for three or more consecutive valid indexes, else `3, 4`. */
function renderRun(run: number[]): string {
  const first = run[0];
  const last = run[run.length - 1];
  return run.length >= 3 && first !== undefined && last !== undefined ? `${first}-${last}` : run.join(', ');
}

interface MarkerResult {
  /** null: nothing valid left, remove the marker. */
  replacement: string | null;
  cited: number[];
}

function rewriteMarker(whole: string, inner: string, valid: Set<number>, sortedIndexes: number[]): MarkerResult {
  const cited: number[] = [];
  const kept: string[] = [];
  let changed = false;
  for (const item of inner.split(/[,;]/)) {
    const [a, b] = item.split(/[-–—]/).map((n) => Number.parseInt(n.trim(), 10));
    if (a === undefined || Number.isNaN(a)) continue;
    if (b === undefined || Number.isNaN(b)) {
      if (valid.has(a)) {
        cited.push(a);
        kept.push(String(a));
      } else changed = true;
      continue;
    }
    const [lo, hi] = a <= b ? [a, b] : [b, a];
    const members = sortedIndexes.filter((i) => i >= lo && i <= hi);
    cited.push(...members);
    if (valid.has(a) && valid.has(b)) kept.push(item.trim());
    else {
      changed = true;
      if (members.length > 0) kept.push(renderRun(members));
    }
  }
  if (!changed) return { replacement: whole, cited };
  return { replacement: kept.length > 0 ? `[${kept.join(', ')}]` : null, cited };
}

function rewriteProse(
  part: string,
  atDocumentStart: boolean,
  valid: Set<number>,
  sortedIndexes: number[],
  cited: number[],
): string {
  let out = '';
  let cursor = 0;
  for (const match of part.matchAll(MARKER)) {
    const start = match.index;
    const end = start + match[0].length;
    const result = rewriteMarker(match[0], match[1] ?? '', valid, sortedIndexes);
    cited.push(...result.cited);
    if (result.replacement === match[0]) continue;
    out += part.slice(cursor, start);
    cursor = end;
    if (result.replacement !== null) {
      out += result.replacement;
      continue;
    }
    // Removed: leave the prose as if the marker had never been there.
    const trimmed = out.replace(/[ \t]+$/, '');
    const spaceBefore = trimmed.length < out.length;
    out = trimmed;
    const atLineStart = (out === '' && atDocumentStart) || out.endsWith('\n');
    const after = part[end];
    if (atLineStart) {
      while (part[cursor] === ' ' || part[cursor] === '\t') cursor += 1;
    } else if (spaceBefore && after !== undefined && !/\s/.test(after) && !CLOSING.test(after)) {
      // "a [99]b": keep the words apart. Before whitespace or punctuation the space goes.
      out += ' ';
    }
  }
  return out + part.slice(cursor);
}

export function extractCitations(answer: string, segments: readonly GroundingSegment[]): ExtractedCitations {
  const valid = new Set(segments.map((s) => s.index));
  const sortedIndexes = [...valid].sort((a, b) => a - b);
  const cited: number[] = [];
  // split with a capture group: even parts are prose, odd parts are code.
  const parts = answer.split(CODE);
  const content = parts
    .map((part, i) => (i % 2 === 1 ? part : rewriteProse(part, i === 0, valid, sortedIndexes, cited)))
    .join('');
  return { content, citations: citationsForIndexes(cited, segments) };
}
