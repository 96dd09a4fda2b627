/** Longest segment we keep whole; text without punctuation would otherwise become one huge segment. */
const MAX_SEGMENT_CHARS = 1_000;

function segmenterFor(language: string | null): Intl.Segmenter {
  try {
    return new Intl.Segmenter(language ?? undefined, { granularity: 'sentence' });
  } catch {
    // Not a valid locale tag: the root rules still split sensibly.
    return new Intl.Segmenter(undefined, { granularity: 'sentence' });
  }
}

/** Splits prose into sentences using the language's rules (Unicode UAX #29 through Intl). */
export function splitSentences(text: string, language: string | null = null): string[] {
  const out: string[] = [];
  for (const { segment } of segmenterFor(language).segment(text)) {
    const sentence = segment.replace(/\s+/g, ' ').trim();
    if (sentence === '') continue;
    out.push(...splitLong(sentence));
  }
  return out;
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
