import { WORD_CHAR, type PiiMatch } from '../kinds.js';

const LOCAL = String.raw`[\p{L}\p{N}_%+\-]`;
const LABEL = String.raw`[\p{L}\p{N}](?:[\p{L}\p{N}\-]{0,61}[\p{L}\p{N}])?`;
const EMAIL = new RegExp(
  String.raw`(?<![\p{L}\p{N}._%+\-])${LOCAL}(?:[\p{L}\p{N}._%+\-]*${LOCAL})?@(?:${LABEL}\.)+\p{L}{2,63}(?![\p{L}\p{N}_\-]|\.[\p{L}\p{N}])`,
  'gu',
);

export function detectEmails(text: string): PiiMatch[] {
  return [...text.matchAll(EMAIL)].map((m) => ({
    kind: 'email',
    start: m.index,
    end: m.index + m[0].length,
    text: m[0],
    key: m[0].toLowerCase(),
  }));
}

/*
 * Phones are matched only as whole runs: a run of digits joined by spaces, dots or dashes that is
 * longer than a phone (a card number failing Luhn, an account number) must not leave a phone inside.
 */
const SEP = '[ .\\-]';
const BEFORE = String.raw`(?<!${WORD_CHAR}|\+|\d${SEP})`;
const AFTER = String.raw`(?!${WORD_CHAR}|${SEP}\(?\d)`;

/** Spanish numbers: 9 digits from 6, 7, 8 or 9, grouped as people write them, with an optional +34 / 0034. */
const SPANISH = new RegExp(
  BEFORE +
    String.raw`(?:(?:\+|00)34${SEP}?)?` +
    '(?:' +
    [
      String.raw`[6-9]\d{8}`,
      String.raw`[6-9]\d{2}${SEP}\d{3}${SEP}\d{3}`,
      String.raw`[6-9]\d{2}${SEP}\d{2}${SEP}\d{2}${SEP}\d{2}`,
      String.raw`[89]\d${SEP}\d{3}${SEP}\d{2}${SEP}\d{2}`,
    ].join('|') +
    ')' +
    AFTER,
  'gu',
);

/** Any country in international form: + and 8 to 15 digits (E.164), a trunk "(0)" allowed. */
const INTERNATIONAL = new RegExp(BEFORE + String.raw`\+[1-9](?:${SEP}?\(?\d\)?)+` + AFTER, 'gu');

function phoneKey(text: string): string {
  const digits = text.replace(/\(0\)/g, '').replace(/\D/g, '');
  if (text.startsWith('+')) return `+${digits}`;
  // Spanish national form: the same number as +34 (and 0034) followed by it.
  return `+34${digits.slice(-9)}`;
}

export function detectPhones(text: string): PiiMatch[] {
  const found: PiiMatch[] = [];
  for (const m of text.matchAll(SPANISH)) {
    found.push({ kind: 'phone', start: m.index, end: m.index + m[0].length, text: m[0], key: phoneKey(m[0]) });
  }
  for (const m of text.matchAll(INTERNATIONAL)) {
    const digits = m[0].replace(/\(0\)/g, '').replace(/\D/g, '');
    if (digits.length < 8 || digits.length > 15) continue;
    if (/[()]/.test(m[0].replace(/\(\d{1,4}\)/g, ''))) continue; // a stray parenthesis: not a number as written
    found.push({ kind: 'phone', start: m.index, end: m.index + m[0].length, text: m[0], key: phoneKey(m[0]) });
  }
  return found;
}
