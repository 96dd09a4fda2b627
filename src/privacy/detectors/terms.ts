import { WORD_CHAR, type PiiMatch } from '../kinds.js';

function escape(term: string): string {
  return term.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function keyOf(text: string): string {
  return text.toLowerCase().replace(/\s+/g, ' ');
}

/**
 * A detector for a user's list of sensitive terms (names, places, projects): whole words in any
 * script, case-insensitive, with any run of white space where the term has one. Null for an empty list.
 */
export function termsDetector(terms: readonly string[]): ((text: string) => PiiMatch[]) | null {
  const cleaned = [...new Set(terms.map((t) => t.trim()).filter((t) => t.length > 0))];
  if (cleaned.length === 0) return null;
  // Longest first, so "Ana García" wins over "Ana" at the same place.
  cleaned.sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
  const alternatives = cleaned.map((t) => t.split(/\s+/).map(escape).join(String.raw`\s+`));
  const pattern = new RegExp(`(?<!${WORD_CHAR})(?:${alternatives.join('|')})(?!${WORD_CHAR})`, 'giu');
  return (text) =>
    [...text.matchAll(pattern)].map((m) => ({
      kind: 'name',
      start: m.index,
      end: m.index + m[0].length,
      text: m[0],
      key: keyOf(m[0]),
    }));
}
