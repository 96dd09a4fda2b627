import { setImmediate as yieldToEventLoop } from 'node:timers/promises';

/** Longest segment we keep whole; text without punctuation would otherwise become one huge segment. */
const MAX_SEGMENT_CHARS = 1_000;

/**
 * Most segments one transcript gets. Past it, neighbouring sentences share a segment: a 10 MB text of
 * short sentences would otherwise be 650,000 rows to insert, index and send back.
 */
export const MAX_SEGMENTS = 10_000;

/*
 * V8's Intl.Segmenter costs grow with the square of the string it walks (8 KB of sentences: 1.3 s),
 * so it only ever sees a window of this many characters.
 */
const WINDOW_CHARS = 2_048;

/** Work done between two yields, so that other requests (and liveness probes) keep being answered. */
const SLICE_MS = 10;

function segmenterFor(language: string | null): Intl.Segmenter {
  try {
    return new Intl.Segmenter(language ?? undefined, { granularity: 'sentence' });
  } catch {
    // Not a valid locale tag: the root rules still split sensibly.
    return new Intl.Segmenter(undefined, { granularity: 'sentence' });
  }
}

// Intl's sentence rules have no abbreviation list, so "Mr. Smith" would become two sentences.
const ABBREVIATION_END = /(?:^|\s)(?:Mr|Mrs|Ms|Dr|Prof|Sr|Sra|Srta|Dra|St|Jr|vs|Ud|Uds|Vd|Vds|No|Nr|Hr|Fr)\.$/;

/** Where to end a window that starts at `from`: after whitespace when there is some, never inside a surrogate pair. */
function windowEnd(text: string, from: number): number {
  const limit = from + WINDOW_CHARS;
  if (limit >= text.length) return text.length;
  for (let i = limit; i > from + WINDOW_CHARS / 2; i--) {
    if (/\s/.test(text[i - 1]!)) return i;
  }
  const code = text.charCodeAt(limit - 1);
  return code >= 0xd800 && code <= 0xdbff ? limit + 1 : limit;
}

/**
 * The language's sentences (Unicode UAX #29 through Intl), window by window. A window's last
 * sentence may continue in the next one, so it is carried over and segmented again with it.
 */
function* rawSentences(text: string, segmenter: Intl.Segmenter): Generator<string> {
  let carry = '';
  let from = 0;
  while (from < text.length) {
    const to = windowEnd(text, from);
    const segments = Array.from(segmenter.segment(carry + text.slice(from, to)), (s) => s.segment);
    from = to;
    // A carried sentence that fills a whole window would be carried forever: it ends here.
    carry = from < text.length && segments.length > 1 ? segments.pop()! : '';
    yield* segments;
  }
  if (carry !== '') yield carry;
}

/** Splits prose into sentences, yielding to the event loop as it goes: input may be megabytes. */
export async function splitSentences(text: string, language: string | null = null): Promise<string[]> {
  const sentences: string[] = [];
  let pending = '';
  let sliceStart = performance.now();
  for (const segment of rawSentences(text, segmenterFor(language))) {
    pending = `${pending} ${segment.replace(/\s+/g, ' ')}`.trim();
    if (pending !== '' && !ABBREVIATION_END.test(pending)) {
      sentences.push(...splitLong(pending));
      pending = '';
    }
    if (performance.now() - sliceStart > SLICE_MS) {
      await yieldToEventLoop();
      sliceStart = performance.now();
    }
  }
  if (pending !== '') sentences.push(...splitLong(pending));
  return packSentences(sentences, MAX_SEGMENTS);
}

function splitLong(sentence: string): string[] {
  const parts: string[] = [];
  let rest = sentence;
  while (rest.length > MAX_SEGMENT_CHARS) {
    const cut = rest.lastIndexOf(' ', MAX_SEGMENT_CHARS);
    const at = cut > MAX_SEGMENT_CHARS / 2 ? cut : MAX_SEGMENT_CHARS;
    parts.push(rest.slice(0, at).trim());
    rest = rest.slice(at).trim();
  }
  if (rest !== '') parts.push(rest);
  return parts;
}

/** At most about `max` segments: neighbours are joined until each holds its share of the text. */
export function packSentences(sentences: string[], max: number): string[] {
  if (sentences.length <= max) return sentences;
  const total = sentences.reduce((sum, s) => sum + s.length + 1, 0);
  const share = Math.ceil(total / max);
  const packed: string[] = [];
  let current = '';
  for (const sentence of sentences) {
    current = current === '' ? sentence : `${current} ${sentence}`;
    if (current.length >= share) {
      packed.push(current);
      current = '';
    }
  }
  if (current !== '') packed.push(current);
  return packed;
}
