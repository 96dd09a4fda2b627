/**
 * The transcript as the model sees it: one numbered line per segment, numbered by the segment's
 * index so that an answer can cite [12]; and the choice of which segments fit a token budget.
 */

import { estimateTokens } from './tokens.js';

export interface GroundingSegment {
  id: string;
  index: number;
  start: number | null;
  end: number | null;
  text: string;
  /** Who spoke; null or absent where the transcript names nobody. */
  speaker?: string | null;
  /** Set when the segments come from several recordings (scope "all"), for the citations. */
  recordingId?: string;
}

/** `1:02:03` from an hour on, `01:02` below. */
export function formatTime(seconds: number): string {
  const total = Math.max(0, Math.floor(Number.isFinite(seconds) ? seconds : 0));
  const s = total % 60;
  const m = Math.floor(total / 60) % 60;
  const h = Math.floor(total / 3600);
  const pad = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s)}` : `${pad(m)}:${pad(s)}`;
}

function timeRange(start: number | null, end: number | null): string {
  if (start === null && end === null) return '(—)';
  if (end === null) return `(${formatTime(start ?? 0)})`;
  if (start === null) return `(–${formatTime(end)})`;
  return `(${formatTime(start)}–${formatTime(end)})`;
}

/** One line per segment: a segment's own line breaks would make its text look like other segments. */
function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** `[12] (01:02–01:07) text`; with a speaker `[12] Ana (01:02–01:07): text`, so answers can say who said what. */
export function formatSegment(segment: GroundingSegment): string {
  const time = timeRange(segment.start, segment.end);
  if (!segment.speaker) return `[${segment.index}] ${time} ${oneLine(segment.text)}`;
  const when = segment.start === null && segment.end === null ? '' : ` ${time}`;
  return `[${segment.index}] ${oneLine(segment.speaker)}${when}: ${oneLine(segment.text)}`;
}

/** The segments as numbered lines, in the order given. */
export function formatSegments(segments: readonly GroundingSegment[]): string {
  return segments.map(formatSegment).join('\n');
}

/**
 * What one segment costs in a formatted block: its line plus the line break. Summing these never
 * underestimates `estimateTokens(formatSegments(...))`, so a selection whose costs fit, fits.
 */
export function segmentCost(segment: GroundingSegment): number {
  return estimateTokens(formatSegment(segment)) + 1;
}

/** Sorted by index; the caller's order is not trusted. */
export function inTranscriptOrder(segments: readonly GroundingSegment[]): GroundingSegment[] {
  return [...segments].sort((a, b) => a.index - b.index);
}

/**
 * The segment with its text cut (at a word boundary when there is one) so that its line costs
 * at most `budgetTokens`. When even the bare `[n] (time)` prefix does not fit, the text is left
 * as a lone ellipsis: one segment is always returned, so this is the one case over budget.
 */
export function truncateSegment(segment: GroundingSegment, budgetTokens: number): GroundingSegment {
  if (segmentCost(segment) <= budgetTokens) return segment;
  const chars = Array.from(oneLine(segment.text));
  const withText = (n: number): GroundingSegment => {
    let cut = chars.slice(0, n).join('');
    const space = cut.lastIndexOf(' ');
    if (n < chars.length && space > cut.length * 0.6) cut = cut.slice(0, space);
    return { ...segment, text: `${cut.trimEnd()}…` };
  };
  // Largest n whose truncation fits: cost grows with n, so binary search.
  let lo = 0;
  let hi = chars.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (segmentCost(withText(mid)) <= budgetTokens) lo = mid;
    else hi = mid - 1;
  }
  return withText(lo);
}

/** Relevance of segments to a question, by segment index; missing or ≤ 0 means irrelevant. */
export type RankFunction = (
  question: string,
  segments: readonly GroundingSegment[],
) => Map<number, number> | Promise<Map<number, number>>;

export interface SelectedContext {
  /** `whole`: every segment; `retrieved`: only excerpts chosen for the question. */
  mode: 'whole' | 'retrieved';
  /** In transcript order. */
  segments: GroundingSegment[];
  /** Estimated tokens of `formatSegments(segments)`; never above the budget (see truncateSegment). */
  tokens: number;
}

/**
 * The whole transcript when it fits `budgetTokens`; otherwise the best-ranked segments, each with
 * its neighbours (the segments just before and after it), added by descending score while they
 * fit. Segments that do not fit are skipped, so a smaller, lower-ranked one may still get in.
 * With nothing relevant, the transcript is taken from its beginning. When not one whole segment
 * fits, the best one (or the first) is cut down to the budget.
 * `rank` is only called when the transcript does not fit.
 */
export async function selectContext(
  segments: readonly GroundingSegment[],
  question: string,
  budgetTokens: number,
  rank: RankFunction,
): Promise<SelectedContext> {
  const ordered = inTranscriptOrder(segments);
  if (ordered.length === 0) return { mode: 'whole', segments: [], tokens: 0 };

  const costs = ordered.map(segmentCost);
  const total = costs.reduce((a, b) => a + b, 0);
  if (total <= budgetTokens) {
    return { mode: 'whole', segments: ordered, tokens: estimateTokens(formatSegments(ordered)) };
  }

  const scores = await rank(question, ordered);
  const positionOf = new Map(ordered.map((s, i) => [s.index, i]));
  const hits = [...scores.entries()]
    .filter(([index, score]) => score > 0 && Number.isFinite(score) && positionOf.has(index))
    .sort((a, b) => b[1] - a[1] || a[0] - b[0])
    .map(([index]) => positionOf.get(index) ?? 0);

  const chosen = new Set<number>();
  let used = 0;
  const tryAdd = (position: number) => {
    const cost = costs[position];
    if (cost === undefined || chosen.has(position) || used + cost > budgetTokens) return;
    chosen.add(position);
    used += cost;
  };
  for (const position of hits) {
    tryAdd(position);
    // Neighbours only around a hit that made it in: alone they answer nothing.
    if (!chosen.has(position)) continue;
    tryAdd(position - 1);
    tryAdd(position + 1);
  }
  if (hits.length === 0) {
    for (let position = 0; position < ordered.length; position += 1) {
      const before = used;
      tryAdd(position);
      if (used === before) break;
    }
  }

  let selected: GroundingSegment[];
  if (chosen.size > 0) {
    selected = [...chosen].sort((a, b) => a - b).map((position) => ordered[position] as GroundingSegment);
  } else {
    // Not even one whole segment fits: the best one (or the first), cut to the budget.
    const best = ordered[hits[0] ?? 0] as GroundingSegment;
    selected = [truncateSegment(best, budgetTokens)];
  }
  return { mode: 'retrieved', segments: selected, tokens: estimateTokens(formatSegments(selected)) };
}

// ---------------------------------------------------------------------------------------------
// A ranker that needs no database: word overlap, weighted by rarity.

const STOPWORDS = new Set(
  [
    // English
    'a an and are as at be been but by can could did do does for from had has have he her him his how i if in into is it its me my no not of on or our she so than that the their them then there these they this those to us was we were what when where which who whom why will with would you your about just also any all some more most very',
    // Spanish
    'al algo como con cual cuando de del donde el ella ellos en entre era es esa ese eso esta este esto fue ha han hay la las le les lo los mas me mi mis muy nada ni no nos o para pero por porque que quien se ser si sin sobre son su sus tambien te tiene tu un una uno unos unas y ya yo',
    // French
    'au aux avec ce ces dans des du elle en et eux il ils je la le les leur lui ma mais me meme mes moi mon ne nous ou par pas pour qu que qui sa se ses son sur ta te tes toi ton tu un une vos votre vous est sont',
    // German
    'der die das den dem des ein eine einer eines einem einen und oder aber ist sind war wie was wer wo wann warum mit von zu zum zur im in auf fur nicht ich du er sie es wir ihr auch noch nur',
    // Portuguese / Italian
    'ao aos da das do dos em na nas no nos um uma umas uns voce il lo gli di da con per che non una sono',
  ]
    .join(' ')
    .split(' '),
);

const CJK_RUN = /^[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]+$/u;

/** Lowercase, accent-free words without stopwords; CJK runs (no spaces) as character bigrams. */
export function terms(text: string): string[] {
  const plain = text.normalize('NFD').replace(/\p{M}+/gu, '').toLowerCase();
  const out: string[] = [];
  for (const word of plain.match(/[\p{L}\p{N}]+/gu) ?? []) {
    if (CJK_RUN.test(word)) {
      const chars = Array.from(word);
      if (chars.length === 1) out.push(word);
      for (let i = 0; i + 1 < chars.length; i += 1) out.push(`${chars[i]}${chars[i + 1]}`);
    } else if (!STOPWORDS.has(word) && (word.length > 1 || /\p{N}/u.test(word))) {
      out.push(word);
    }
  }
  return out;
}

/** Equal, or the same stem give or take a short ending: budget/budgets, precio/precios. */
function sameTerm(a: string, b: string): boolean {
  if (a === b) return true;
  const [short, long] = a.length <= b.length ? [a, b] : [b, a];
  return short.length >= 4 && long.length - short.length <= 2 && long.startsWith(short);
}

/**
 * A fallback `RankFunction`: for each segment, the sum over the question's distinct terms that it
 * contains of log(1 + N / df), so rare words weigh more than common ones. Only segments sharing
 * at least one term are in the map.
 */
export function termOverlapRank(question: string, segments: readonly GroundingSegment[]): Map<number, number> {
  const wanted = [...new Set(terms(question))];
  const scores = new Map<number, number>();
  if (wanted.length === 0 || segments.length === 0) return scores;

  const segmentTerms = segments.map((s) => new Set(terms(s.text)));
  const matches = wanted.map((term) =>
    segmentTerms.map((set) => set.has(term) || [...set].some((candidate) => sameTerm(term, candidate))),
  );
  matches.forEach((row) => {
    const df = row.filter(Boolean).length;
    if (df === 0) return;
    const weight = Math.log(1 + segments.length / df);
    row.forEach((hit, i) => {
      const segment = segments[i];
      if (!hit || !segment) return;
      scores.set(segment.index, (scores.get(segment.index) ?? 0) + weight);
    });
  });
  return scores;
}
