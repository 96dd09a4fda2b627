/**
 * A user's sensitive terms (names, places, projects): stored per user in `privacy_terms` under
 * row-level security, and given to every redactor made for that user's requests.
 */

import { asc, eq } from 'drizzle-orm';
import type { AppDatabase, Tx } from '../db/client.js';
import { newId } from '../db/ids.js';
import { privacyTerms } from '../db/schema.js';
import { withUser } from '../db/scope.js';
import { errors } from '../http/errors.js';

/** Bounds of one list: each term is compiled into every redactor of the user's requests. */
export const MAX_TERMS = 500;
export const TERM_MIN_LENGTH = 2;
export const TERM_MAX_LENGTH = 100;

/** The caller's terms in the order they were listed; RLS keeps them to the user of `tx`. */
export async function sensitiveTerms(tx: Tx): Promise<string[]> {
  const rows = await tx.select({ term: privacyTerms.term }).from(privacyTerms).orderBy(asc(privacyTerms.id));
  return rows.map((row) => row.term);
}

/**
 * A list as it will be stored: trimmed, inner white space collapsed, and once each whatever its
 * case (the detector ignores case anyway); 422 for a term outside the bounds after trimming.
 */
export function normaliseTerms(terms: readonly string[]): string[] {
  const seen = new Set<string>();
  const kept: string[] = [];
  terms.forEach((raw, i) => {
    const term = raw.trim().replace(/\s+/g, ' ');
    if (term.length < TERM_MIN_LENGTH || term.length > TERM_MAX_LENGTH) {
      throw errors.validation(`Each term is ${TERM_MIN_LENGTH} to ${TERM_MAX_LENGTH} characters`, [
        { field: `/terms/${i}`, message: `must be ${TERM_MIN_LENGTH} to ${TERM_MAX_LENGTH} characters once trimmed` },
      ]);
    }
    const key = term.toLowerCase();
    if (seen.has(key)) return;
    seen.add(key);
    kept.push(term);
  });
  return kept;
}

export class PrivacyTermsService {
  constructor(private readonly db: AppDatabase) {}

  list(userId: string): Promise<string[]> {
    return withUser(this.db, userId, sensitiveTerms);
  }

  /** Replaces the user's whole list in one transaction. */
  replace(userId: string, terms: readonly string[]): Promise<string[]> {
    const kept = normaliseTerms(terms);
    return withUser(this.db, userId, async (tx) => {
      await tx.delete(privacyTerms).where(eq(privacyTerms.userId, userId));
      // Ids are time-ordered (UUIDv7), so the list reads back in the order it was given.
      if (kept.length > 0) await tx.insert(privacyTerms).values(kept.map((term) => ({ id: newId(), userId, term })));
      return kept;
    });
  }
}
