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

/** Yields to the event loop once `SLICE_MS` of work has passed since the last yield. */
class Slicer {
  private sliceStart = performance.now();

  /** Checked before awaiting `pause`: an await per sentence would cost a 10 MB text dearly. */
  due(): boolean {
    return performance.now() - this.sliceStart > SLICE_MS;
  }

  async pause(): Promise<void> {
    await yieldToEventLoop();
    this.sliceStart = performance.now();
  }
}

function* sentencesIn(text: string, segmenter: Intl.Segmenter): Generator<string> {
  let pending = '';
  for (const segment of rawSentences(text, segmenter)) {
    pending = `${pending} ${segment.replace(/\s+/g, ' ')}`.trim();
    if (pending !== '' && !ABBREVIATION_END.test(pending)) {
      yield* splitLong(pending);
      pending = '';
    }
  }
  if (pending !== '') yield* splitLong(pending);
}

/** Splits prose into sentences, yielding to the event loop as it goes: input may be megabytes. */
export async function splitSentences(text: string, language: string | null = null): Promise<string[]> {
  const sentences: string[] = [];
  const slicer = new Slicer();
  for (const sentence of sentencesIn(text, segmenterFor(language))) {
    sentences.push(sentence);
    if (slicer.due()) await slicer.pause();
  }
  return packSentences(sentences, MAX_SEGMENTS);
}

/** A sentence and who said it; `speaker` is null where the text names nobody. */
export interface SpokenSentence {
  speaker: string | null;
  text: string;
}

/*
 * `Ana: Hola.` or `SPEAKER_1: …` at the start of a line: a label of 1–40 letters, digits, spaces,
 * `_`, `.` or `-`, then a colon and, after whitespace, the text. The whitespace keeps URLs
 * (`https://…`) and clock times (`10:30`) from being read as speakers. Bounded, so linear.
 */
const LABEL = String.raw`[ \t]*([\p{L}\p{N}](?:[\p{L}\p{N} _.-]{0,38}[\p{L}\p{N}_.-])?)[ \t]*:[ \t]+(?=\S)`;
const SPEAKER_LINE = new RegExp(`^${LABEL}`, 'u');
const ANY_SPEAKER_LINE = new RegExp(`^${LABEL}`, 'mu');

/** Consecutive lines of one speaker; lines without a label continue the turn before them. */
function* speakerTurns(text: string): Generator<SpokenSentence> {
  let speaker: string | null = null;
  let lines: string[] = [];
  for (const line of text.split('\n')) {
    const label = SPEAKER_LINE.exec(line);
    if (!label) {
      lines.push(line);
      continue;
    }
    if (lines.length > 0) yield { speaker, text: lines.join('\n') };
    speaker = label[1]!;
    lines = [line.slice(label[0].length)];
  }
  if (lines.length > 0) yield { speaker, text: lines.join('\n') };
}

/**
 * Sentences with their speakers when lines start with `Name:` (the label leaves the text);
 * otherwise exactly `splitSentences`, every speaker null.
 */
export async function splitSpokenSentences(text: string, language: string | null = null): Promise<SpokenSentence[]> {
  if (!ANY_SPEAKER_LINE.test(text)) {
    return (await splitSentences(text, language)).map((sentence) => ({ speaker: null, text: sentence }));
  }
  const segmenter = segmenterFor(language);
  const slicer = new Slicer();
  const sentences: SpokenSentence[] = [];
  for (const turn of speakerTurns(text)) {
    for (const sentence of sentencesIn(turn.text, segmenter)) {
      sentences.push({ speaker: turn.speaker, text: sentence });
      if (slicer.due()) await slicer.pause();
    }
  }
  return packSpoken(sentences, MAX_SEGMENTS);
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
  return packSpoken(sentences.map((text) => ({ speaker: null, text })), max).map((s) => s.text);
}

/**
 * `packSentences` keeping speakers: neighbours are joined within a speaker's turn; only when
 * turns alone are more than `max` are they joined across speakers too, the speaker then null
 * and each part's label kept in the text, so that nobody's words lose their name.
 */
export function packSpoken(sentences: SpokenSentence[], max: number): SpokenSentence[] {
  if (sentences.length <= max) return sentences;
  const total = sentences.reduce((sum, s) => sum + s.text.length + 1, 0);
  const share = Math.ceil(total / max);
  const withinTurns = joinNeighbours(sentences, share, true);
  return withinTurns.length <= max ? withinTurns : joinNeighbours(sentences, share, false);
}

function joinNeighbours(sentences: SpokenSentence[], share: number, withinTurns: boolean): SpokenSentence[] {
  const packed: SpokenSentence[] = [];
  let group: SpokenSentence[] = [];
  let length = 0;
  const flush = () => {
    if (group.length === 0) return;
    const speaker = group[0]!.speaker;
    const oneSpeaker = group.every((s) => s.speaker === speaker);
    const parts = oneSpeaker ? group.map((s) => s.text) : group.map((s) => (s.speaker === null ? s.text : `${s.speaker}: ${s.text}`));
    packed.push({ speaker: oneSpeaker ? speaker : null, text: parts.join(' ') });
    group = [];
    length = 0;
  };
  for (const sentence of sentences) {
    if (withinTurns && group.length > 0 && group[0]!.speaker !== sentence.speaker) flush();
    group.push(sentence);
    length += sentence.text.length + (group.length > 1 ? 1 : 0);
    if (length >= share) flush();
  }
  flush();
  return packed;
}
