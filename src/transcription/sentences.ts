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

// Intl's sentence rules have no abbreviation list, so "Mr. Smith" would become two sentences.
const ABBREVIATION_END = /(?:^|\s)(?:Mr|Mrs|Ms|Dr|Prof|Sr|Sra|Srta|Dra|St|Jr|vs|Ud|Uds|Vd|Vds|No|Nr|Hr|Fr)\.$/;

/** Splits prose into sentences using the language's rules (Unicode UAX #29 through Intl). */
export function splitSentences(text: string, language: string | null = null): string[] {
  const sentences: string[] = [];
  let pending = '';
  for (const { segment } of segmenterFor(language).segment(text)) {
    pending = `${pending} ${segment.replace(/\s+/g, ' ')}`.trim();
    if (pending === '' || ABBREVIATION_END.test(pending)) continue;
    sentences.push(pending);
    pending = '';
  }
  if (pending !== '') sentences.push(pending);
  return sentences.flatMap(splitLong);
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
