/**
 * A redacted copy of a transcript (`?redact=true` on every export format): one redactor for the
 * whole document, so a value has the same placeholder in the text, every segment and the words.
 */

import type { Static } from 'typebox';
import { createRedactor, detectPii, type PiiMatch, type Redactor } from '../privacy/index.js';
import type { Word } from './schemas.js';
import type { TranscriptionView } from './view.js';

type WordView = Static<typeof Word>;

export function redactTranscription(view: TranscriptionView, terms: readonly string[]): TranscriptionView {
  const redactor = createRedactor({ terms });
  const detect = (text: string) => detectPii(text, { terms });
  return {
    ...view,
    text: view.text === null ? null : redactor.redact(view.text),
    segments: view.segments.map((s) => ({
      ...s,
      text: redactor.redact(s.text),
      speaker: s.speaker === null ? null : redactor.redact(s.speaker),
      words: s.words === null ? null : redactWords(s.words, redactor, detect),
    })),
  };
}

/**
 * Words are searched as the text they make together, so a value spoken as several words (a phone
 * number read out in groups) is found too. The words a value covers become one word with its
 * placeholder, from the first word's start to the last one's end.
 */
export function redactWords(words: readonly WordView[], redactor: Redactor, detect: (text: string) => PiiMatch[]): WordView[] {
  let joined = '';
  const spans = words.map((w, i) => {
    const glued = i === 0 || /^\s/.test(w.word) || /\s$/.test(words[i - 1]!.word);
    if (!glued) joined += ' ';
    const start = joined.length;
    joined += w.word;
    return { start, end: joined.length };
  });
  const matches = detect(joined);
  if (matches.length === 0) return words.map((w) => ({ ...w }));
  const out: WordView[] = [];
  let m = 0;
  for (let i = 0; i < words.length; ) {
    const span = spans[i]!;
    while (m < matches.length && matches[m]!.end <= span.start) m++;
    if (m >= matches.length || matches[m]!.start >= span.end) {
      out.push({ ...words[i]! });
      i++;
      continue;
    }
    // Words i..j and every value that starts inside them become one word.
    let j = i;
    let text = '';
    let at = span.start;
    while (m < matches.length && matches[m]!.start < spans[j]!.end) {
      const match = matches[m]!;
      while (j + 1 < words.length && spans[j + 1]!.start < match.end) j++;
      text += joined.slice(at, match.start) + placeholderOf(match, redactor);
      at = match.end;
      m++;
    }
    text += joined.slice(at, spans[j]!.end);
    out.push({ ...words[i]!, word: text, end: words[j]!.end });
    i = j + 1;
  }
  return out;
}

/**
 * The redactor's placeholder for a value found in context. Detectors only narrow what matches by
 * looking around it, so the value alone is found again; should it not be, its kind alone stands in.
 */
function placeholderOf(match: PiiMatch, redactor: Redactor): string {
  const redacted = redactor.redact(match.text);
  return redacted === match.text ? `<${match.kind.toUpperCase()}>` : redacted;
}
