import { ibanValid, luhnValid } from '../checksums.js';
import { IBAN_LENGTHS } from '../iban-lengths.js';
import { WORD_CHAR, type PiiMatch } from '../kinds.js';

/** 13–19 digits, optionally grouped by spaces or dashes, as a whole run (no longer digit run around it). */
const CARD = new RegExp(String.raw`(?<!${WORD_CHAR}|\d[ \-])\d(?:[ \-]?\d){12,18}(?!${WORD_CHAR}|[ \-]\d)`, 'gu');

/** Issued card numbers start with 2–6 (Mastercard 2-series, Amex/Diners/JCB 3, Visa 4, Mastercard/Maestro 5, Discover/UnionPay 6). */
export function detectCards(text: string): PiiMatch[] {
  const found: PiiMatch[] = [];
  for (const m of text.matchAll(CARD)) {
    const digits = m[0].replace(/\D/g, '');
    if (!/^[2-6]/.test(digits) || /^(\d)\1*$/.test(digits) || !luhnValid(digits)) continue;
    found.push({ kind: 'card', start: m.index, end: m.index + m[0].length, text: m[0], key: digits });
  }
  return found;
}

const IBAN_START = new RegExp(String.raw`(?<!${WORD_CHAR})[A-Za-z]{2}\d{2}`, 'gu');
const WORD = new RegExp(WORD_CHAR, 'u');
const ALNUM = /[A-Za-z0-9]/;

/**
 * IBANs, compact or in groups separated by single spaces. The country's registered length says where
 * the IBAN ends, so the word after a spaced IBAN is never taken for part of it.
 */
export function detectIbans(text: string): PiiMatch[] {
  const found: PiiMatch[] = [];
  for (const m of text.matchAll(IBAN_START)) {
    const length = IBAN_LENGTHS[m[0].slice(0, 2).toUpperCase()];
    if (length === undefined) continue;
    let compact = m[0];
    let i = m.index + m[0].length;
    while (compact.length < length) {
      if (text[i] === ' ' && ALNUM.test(text[i + 1] ?? '')) i++;
      const char = text[i] ?? '';
      if (!ALNUM.test(char)) break;
      compact += char;
      i++;
    }
    if (compact.length !== length || WORD.test(text[i] ?? '')) continue;
    const key = compact.toUpperCase();
    if (!ibanValid(key)) continue;
    found.push({ kind: 'iban', start: m.index, end: i, text: text.slice(m.index, i), key });
  }
  return found;
}
