import { dniValid, ssnValid } from '../checksums.js';
import { WORD_CHAR, type PiiMatch } from '../kinds.js';

const SSN = new RegExp(String.raw`(?<!${WORD_CHAR}|\d-)(\d{3})-(\d{2})-(\d{4})(?!${WORD_CHAR}|-\d)`, 'gu');

/** US Social Security numbers written NNN-NN-NNNN, outside the ranges never issued. */
export function detectSsns(text: string): PiiMatch[] {
  const found: PiiMatch[] = [];
  for (const m of text.matchAll(SSN)) {
    if (!ssnValid(m[1]!, m[2]!, m[3]!)) continue;
    found.push({ kind: 'ssn', start: m.index, end: m.index + m[0].length, text: m[0], key: m[0] });
  }
  return found;
}

/*
 * DNI: 8 digits (or 12.345.678) and the letter, joined or with a dash; a space before the letter
 * only when it is upper-case, so a lower-case word after a number ("… 12345678 a las …") is not read
 * as one. NIE: X, Y or Z, 7 digits and the letter. The check letter decides in both.
 */
const DNI = new RegExp(
  String.raw`(?<!${WORD_CHAR}|\d[.\-])(\d{8}|\d{2}\.\d{3}\.\d{3})(?:-?([A-Za-z])| ([A-Z]))(?!${WORD_CHAR})`,
  'gu',
);
const NIE = new RegExp(String.raw`(?<!${WORD_CHAR})([XYZxyz])-?(\d{7})-?([A-Za-z])(?!${WORD_CHAR})`, 'gu');

export function detectDnis(text: string): PiiMatch[] {
  const found: PiiMatch[] = [];
  for (const m of text.matchAll(DNI)) {
    const key = m[1]!.replace(/\./g, '') + (m[2] ?? m[3]!).toUpperCase();
    if (dniValid(key)) found.push({ kind: 'dni', start: m.index, end: m.index + m[0].length, text: m[0], key });
  }
  for (const m of text.matchAll(NIE)) {
    const key = (m[1]! + m[2]! + m[3]!).toUpperCase();
    if (dniValid(key)) found.push({ kind: 'dni', start: m.index, end: m.index + m[0].length, text: m[0], key });
  }
  return found;
}
