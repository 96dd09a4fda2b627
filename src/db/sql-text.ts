/*
 * Finds the $n parameters of compiled SQL, so that values can be put in their place. A `$1` inside
 * a string, a quoted identifier, a comment or a dollar-quoted body is text, not a parameter; the
 * scanner skips those. The text comes from our own code (drizzle's compiler), never from a
 * request, so anything it cannot read is refused rather than guessed at.
 */

const IDENT = /[A-Za-z0-9_$\u0080-\uffff]/;
const DOLLAR_TAG = /^\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/;

export interface SplitSql {
  /** The text around the parameters: pieces.length === order.length + 1. */
  pieces: string[];
  /** The 0-based index into the parameter list of each placeholder, in order of appearance. */
  order: number[];
}

/** Splits one statement at its parameters; several statements (a `;`) are refused. */
export function splitAtParams(text: string): SplitSql {
  const pieces: string[] = [];
  const order: number[] = [];
  let start = 0;
  let i = 0;
  const skipTo = (end: number, what: string) => {
    if (end < 0) throw new Error(`Unterminated ${what} in compiled SQL`);
    i = end;
  };
  while (i < text.length) {
    const c = text[i]!;
    const prev = i > 0 ? text[i - 1]! : '';
    if (c === "'") {
      skipTo(endOfString(text, i, /[Ee]/.test(prev) && !IDENT.test(text[i - 2] ?? '')), 'string');
    } else if (c === '"') {
      skipTo(endOfDoubled(text, i, '"'), 'identifier');
    } else if (c === '-' && text[i + 1] === '-') {
      const eol = text.indexOf('\n', i);
      i = eol < 0 ? text.length : eol + 1;
    } else if (c === '/' && text[i + 1] === '*') {
      skipTo(endOfBlockComment(text, i), 'comment');
    } else if (c === '$' && !IDENT.test(prev)) {
      const digits = /^\$(\d+)/.exec(text.slice(i, i + 12));
      if (digits) {
        pieces.push(text.slice(start, i));
        order.push(Number(digits[1]) - 1);
        i += digits[0].length;
        start = i;
        continue;
      }
      const tag = DOLLAR_TAG.exec(text.slice(i, i + 64));
      if (tag) {
        const close = text.indexOf(tag[0], i + tag[0].length);
        skipTo(close < 0 ? -1 : close + tag[0].length, 'dollar-quoted string');
      } else {
        i++;
      }
    } else if (c === ';') {
      throw new Error('Compiled SQL must be a single statement');
    } else {
      i++;
    }
  }
  pieces.push(text.slice(start));
  return { pieces, order };
}

/** Index just past a '…' string ('' is a quote; with `escapes`, so is \'). */
function endOfString(text: string, open: number, escapes: boolean): number {
  for (let i = open + 1; i < text.length; i++) {
    if (escapes && text[i] === '\\') {
      i++;
    } else if (text[i] === "'") {
      if (text[i + 1] !== "'") return i + 1;
      i++;
    }
  }
  return -1;
}

function endOfDoubled(text: string, open: number, quote: string): number {
  for (let i = open + 1; i < text.length; i++) {
    if (text[i] === quote) {
      if (text[i + 1] !== quote) return i + 1;
      i++;
    }
  }
  return -1;
}

/** Block comments nest in PostgreSQL. */
function endOfBlockComment(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length - 1; i++) {
    if (text[i] === '/' && text[i + 1] === '*') {
      depth++;
      i++;
    } else if (text[i] === '*' && text[i + 1] === '/') {
      depth--;
      i++;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}
