import { PII_KINDS, PLACEHOLDER_LABELS, type PiiKind } from './kinds.js';

/** `<EMAIL_1>`: what the provider sees in place of a value. */
export function placeholder(kind: PiiKind, n: number): string {
  return `<${PLACEHOLDER_LABELS[kind]}_${n}>`;
}

const LABELS = PII_KINDS.map((kind) => PLACEHOLDER_LABELS[kind]).join('|');

/**
 * A placeholder as a model may echo it: `<EMAIL_1>`, `EMAIL_1`, `email_1`, or Markdown-escaped
 * `EMAIL\_1`. Groups 1 and 2 are the label and number of the bracketed form, 3 and 4 of the bare one.
 */
export const PLACEHOLDER_PATTERN = new RegExp(
  String.raw`<(${LABELS})_(\d+)>|(?<!\w)(${LABELS})\\?_(\d+)(?!\w)`,
  'gi',
);

/**
 * Replaces each placeholder that starts at or after `from` with `replace(canonical, as written)`;
 * the text before `from` is only there so a bare `EMAIL_1` can tell whether it starts a word.
 * Returns the text from `from` on.
 */
export function replacePlaceholders(text: string, from: number, replace: (name: string, written: string) => string): string {
  const pattern = new RegExp(PLACEHOLDER_PATTERN.source, PLACEHOLDER_PATTERN.flags);
  pattern.lastIndex = from;
  let out = '';
  let at = from;
  for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
    out += text.slice(at, m.index) + replace(canonical(m[1] ?? m[3]!, m[2] ?? m[4]!), m[0]);
    at = m.index + m[0].length;
  }
  return out + text.slice(at);
}

/** The canonical `<LABEL_N>` for a label and number as PLACEHOLDER_PATTERN found them. */
export function canonical(label: string, number: string): string {
  return `<${label.toUpperCase()}_${Number(number)}>`;
}

const LABEL_LIST = PII_KINDS.map((kind) => PLACEHOLDER_LABELS[kind]);
const LONGEST_FORM = 24; // `<EMAIL_` + digits + `>` with room to spare

/** Whether `s` could be the start of a placeholder that more text would complete. */
function couldGrowIntoPlaceholder(s: string): boolean {
  const bracketed = s.startsWith('<');
  const rest = (bracketed ? s.slice(1) : s).toUpperCase();
  if (rest === '') return bracketed;
  return LABEL_LIST.some((label) => {
    if (rest.length <= label.length) return label.startsWith(rest);
    if (!rest.startsWith(label)) return false;
    const after = rest.slice(label.length);
    return bracketed ? /^_\d*$/.test(after) : /^\\?(?:_\d*)?$/.test(after);
  });
}

/**
 * How many characters at the end of a streamed chunk (`before`: the character already sent before it) could still grow into a placeholder (`<EMA`,
 * `PHONE_`, `IP_1` before more digits): they are held back until the next chunk decides.
 */
export function pendingTail(text: string, before = ''): number {
  for (let length = Math.min(LONGEST_FORM, text.length); length > 0; length--) {
    const start = text.length - length;
    const tail = text.slice(start);
    // A bare EMAIL_1 is restored only as a word of its own, so "there" holds nothing back.
    if (!tail.startsWith('<') && /\w/.test(start > 0 ? text[start - 1]! : before)) continue;
    if (couldGrowIntoPlaceholder(tail)) return length;
  }
  return 0;
}
