import { isIP } from 'node:net';
import { WORD_CHAR, type PiiMatch } from '../kinds.js';

/* Candidates are loose on purpose; node:net's isIP decides (octets over 255, leading zeros, bad IPv6). */

/** Four dotted numbers not inside a longer dotted run, so a version 1.2.3.4.5 is no address. */
const IPV4 = new RegExp(String.raw`(?<!${WORD_CHAR}|\d\.)\d{1,3}(?:\.\d{1,3}){3}(?!${WORD_CHAR}|\.\d)`, 'gu');
const IPV6 = new RegExp(
  String.raw`(?<!${WORD_CHAR}|:|[\p{L}\p{N}]\.)(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|\d{1,3}(?:\.\d{1,3}){3})?(?!${WORD_CHAR}|:|\.\d)`,
  'gu',
);

export function detectIps(text: string): PiiMatch[] {
  const found: PiiMatch[] = [];
  for (const m of text.matchAll(IPV4)) {
    if (isIP(m[0]) === 4) found.push({ kind: 'ip', start: m.index, end: m.index + m[0].length, text: m[0], key: m[0] });
  }
  for (const m of text.matchAll(IPV6)) {
    // "::" alone carries nothing, and a clock time (10:30:00) fails isIP.
    if (!/[0-9a-f]/i.test(m[0]) || isIP(m[0]) !== 6) continue;
    found.push({ kind: 'ip', start: m.index, end: m.index + m[0].length, text: m[0], key: m[0].toLowerCase() });
  }
  return found;
}
