import { detectorFor, resolveOverlaps, type DetectOptions } from './detect.js';
import { PII_KINDS, PLACEHOLDER_LABELS, type PiiKind, type PiiMatch } from './kinds.js';
import { pendingTail, placeholder, PLACEHOLDER_PATTERN, replacePlaceholders } from './placeholders.js';

export type RedactorOptions = DetectOptions;

/** Values pseudonymised per kind (distinct values, not occurrences); kinds with none are absent. */
export type RedactionCounts = Partial<Record<PiiKind, number>>;

/** Restores a streamed answer chunk by chunk; a placeholder cut between chunks is held back until whole. */
export interface StreamRestorer {
  push(chunk: string): string;
  /** What is still held back, restored: call once the stream ends. */
  flush(): string;
}

export interface Redactor {
  /** `text` with every value replaced by its placeholder; the same value gets the same one in every text. */
  redact(text: string): string;
  /** Placeholders (`<EMAIL_1>`, `EMAIL_1`, `email_1`, `EMAIL\_1`) back to the values they stand for. */
  restore(text: string): string;
  restorer(): StreamRestorer;
  counts(): RedactionCounts;
  /**
   * Like counts(), limited to the placeholders that appear in `texts` (what was really sent, when
   * more was redacted than a prompt kept).
   */
  countsIn(texts: readonly string[]): RedactionCounts;
}

const LABEL_KIND = new Map(PII_KINDS.map((kind) => [PLACEHOLDER_LABELS[kind], kind] as const));
/** Keys of placeholder-shaped text found in the input itself; never a real key (those have no NUL). */
const LITERAL = '\u0000literal:';
/** Placeholders as redact() writes them. */
const ISSUED = /<[A-Z]+_\d+>/g;

/**
 * Text that already looks like a placeholder (a transcript that says "EMAIL_1") is given a
 * placeholder of its own, so the model cannot confuse it with a real one and restore() gives it back
 * verbatim. Hence: pass original text, not text this redactor has already redacted.
 */
function literalPlaceholders(text: string): PiiMatch[] {
  return [...text.matchAll(PLACEHOLDER_PATTERN)].map((m) => ({
    kind: LABEL_KIND.get((m[1] ?? m[3]!).toUpperCase())!,
    start: m.index,
    end: m.index + m[0].length,
    text: m[0],
    key: LITERAL + m[0],
  }));
}

/**
 * One redactor per request: the mapping from placeholders to values lives in this object only
 * (never stored, never logged) and dies with the request.
 */
export function createRedactor(options: RedactorOptions = {}): Redactor {
  const detect = detectorFor(options);
  const placeholderOf = new Map<string, string>(); // kind + key → placeholder
  const valueOf = new Map<string, string>(); // placeholder → the value as first seen
  const issued = Object.fromEntries(PII_KINDS.map((kind) => [kind, 0])) as Record<PiiKind, number>;
  const counted = Object.fromEntries(PII_KINDS.map((kind) => [kind, 0])) as Record<PiiKind, number>;
  const real = new Map<string, PiiKind>(); // placeholder → kind, for values (not literal look-alikes)

  function placeholderFor(match: PiiMatch): string {
    const id = `${match.kind}\u0000${match.key}`;
    let name = placeholderOf.get(id);
    if (name === undefined) {
      issued[match.kind] += 1;
      name = placeholder(match.kind, issued[match.kind]);
      placeholderOf.set(id, name);
      valueOf.set(name, match.text);
      if (!match.key.startsWith(LITERAL)) {
        counted[match.kind] += 1;
        real.set(name, match.kind);
      }
    }
    return name;
  }

  function redact(text: string): string {
    const matches = resolveOverlaps([...detect(text), ...literalPlaceholders(text)], text.length);
    let out = '';
    let at = 0;
    for (const match of matches) {
      out += text.slice(at, match.start) + placeholderFor(match);
      at = match.end;
    }
    return out + text.slice(at);
  }

  const restoreFrom = (text: string, from: number) =>
    replacePlaceholders(text, from, (name, written) => valueOf.get(name) ?? written);
  const restore = (text: string) => restoreFrom(text, 0);

  return {
    redact,
    restore,
    restorer() {
      let held = '';
      let last = ''; // the last character sent: whether a placeholder after it starts a word
      const send = (text: string) => {
        const out = restoreFrom(last + text, last.length);
        if (text !== '') last = text.slice(-1);
        return out;
      };
      return {
        push(chunk) {
          const text = held + chunk;
          const keep = pendingTail(text, last);
          held = text.slice(text.length - keep);
          return send(text.slice(0, text.length - keep));
        },
        flush() {
          const text = held;
          held = '';
          return send(text);
        },
      };
    },
    counts() {
      const counts: RedactionCounts = {};
      for (const kind of PII_KINDS) if (counted[kind] > 0) counts[kind] = counted[kind];
      return counts;
    },
    countsIn(texts) {
      const seen = new Set<string>();
      for (const text of texts) {
        for (const m of text.matchAll(ISSUED)) if (real.has(m[0])) seen.add(m[0]);
      }
      const found = Object.fromEntries(PII_KINDS.map((kind) => [kind, 0])) as Record<PiiKind, number>;
      for (const name of seen) found[real.get(name)!] += 1;
      const counts: RedactionCounts = {};
      for (const kind of PII_KINDS) if (found[kind] > 0) counts[kind] = found[kind];
      return counts;
    },
  };
}

/** A redacted copy of one text (exports, `?redact=true`); parts of one document should share a createRedactor(). */
export function redactText(text: string, options: RedactorOptions = {}): string {
  return createRedactor(options).redact(text);
}
