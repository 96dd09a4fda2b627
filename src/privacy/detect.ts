import { detectEmails, detectPhones } from './detectors/contact.js';
import { detectCards, detectIbans } from './detectors/financial.js';
import { detectDnis, detectSsns } from './detectors/identity.js';
import { detectIps } from './detectors/network.js';
import { termsDetector } from './detectors/terms.js';
import { KIND_RANK, PII_KINDS, type PiiKind, type PiiMatch } from './kinds.js';

export interface DetectOptions {
  /** Kinds to look for; all by default. `name` needs `terms`. */
  kinds?: readonly PiiKind[];
  /** The user's sensitive terms (names, places…), found as whole words, case-insensitively. */
  terms?: readonly string[];
}

type Detector = (text: string) => PiiMatch[];

const BUILT_IN: Record<Exclude<PiiKind, 'name'>, Detector> = {
  email: detectEmails,
  phone: detectPhones,
  card: detectCards,
  iban: detectIbans,
  ssn: detectSsns,
  dni: detectDnis,
  ip: detectIps,
};

/** The detectors for a set of options, built once (the terms' pattern is compiled here). */
export function detectorFor(options: DetectOptions = {}): (text: string) => PiiMatch[] {
  const kinds = new Set(options.kinds ?? PII_KINDS);
  const detectors: Detector[] = [];
  for (const kind of PII_KINDS) {
    if (!kinds.has(kind)) continue;
    if (kind === 'name') {
      const terms = termsDetector(options.terms ?? []);
      if (terms) detectors.push(terms);
    } else {
      detectors.push(BUILT_IN[kind]);
    }
  }
  return (text) => resolveOverlaps(detectors.flatMap((detect) => detect(text)), text.length);
}

/** Every piece of personal data in `text`, in order, none overlapping. */
export function detectPii(text: string, options: DetectOptions = {}): PiiMatch[] {
  return detectorFor(options)(text);
}

/**
 * Overlapping candidates: the longest wins; at equal length the more specific kind (KIND_RANK), then
 * the earlier one. Decided by this order alone, so the same text always gives the same matches.
 */
export function resolveOverlaps(candidates: PiiMatch[], textLength: number): PiiMatch[] {
  const ordered = [...candidates].sort(
    (a, b) => b.end - b.start - (a.end - a.start) || KIND_RANK[a.kind] - KIND_RANK[b.kind] || a.start - b.start,
  );
  const taken = new Uint8Array(textLength);
  const kept: PiiMatch[] = [];
  for (const match of ordered) {
    let free = true;
    for (let i = match.start; i < match.end && free; i++) free = taken[i] === 0;
    if (!free) continue;
    taken.fill(1, match.start, match.end);
    kept.push(match);
  }
  return kept.sort((a, b) => a.start - b.start);
}
