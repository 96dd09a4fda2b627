/** The kinds of personal data the redactor recognises, and how each is named in a placeholder. */

export const PII_KINDS = ['email', 'phone', 'card', 'iban', 'ssn', 'dni', 'ip', 'name'] as const;
export type PiiKind = (typeof PII_KINDS)[number];

/** `<EMAIL_1>`: the label is what a model reads, so it says what was there without saying what it was. */
export const PLACEHOLDER_LABELS: Record<PiiKind, string> = {
  email: 'EMAIL',
  phone: 'PHONE',
  card: 'CARD',
  iban: 'IBAN',
  ssn: 'SSN',
  dni: 'DNI',
  ip: 'IP',
  name: 'NAME',
};

/**
 * When two candidates cover exactly the same characters, the lower rank wins: checksummed kinds
 * first, since a passing checksum is stronger evidence than a pattern.
 */
export const KIND_RANK: Record<PiiKind, number> = {
  iban: 0,
  card: 1,
  dni: 2,
  ssn: 3,
  email: 4,
  ip: 5,
  phone: 6,
  name: 7,
};

export interface PiiMatch {
  kind: PiiKind;
  start: number;
  /** Exclusive. */
  end: number;
  /** The characters as they appear in the text. */
  text: string;
  /** The value normalised (card digits without spaces, e-mail lower-cased): equal keys share a placeholder. */
  key: string;
}

/** Letters, digits and underscore in any script: what a whole-word match must not touch. */
export const WORD_CHAR = String.raw`[\p{L}\p{N}\p{M}_]`;
