import { eq, sql } from 'drizzle-orm';
import type { AppDatabase, Tx } from '../db/client.js';
import { users } from '../db/schema.js';
import { asSystem } from '../db/scope.js';

export const ADMIN_ROLE = 'admin';
export const USER_ROLE = 'user';

/**
 * Key of the transaction-level advisory lock every account-creating transaction takes before it
 * looks at whether any account exists. Without it, concurrent first registrations on PostgreSQL
 * each see an empty table under READ COMMITTED and all become admin. (Any fixed bigint will do;
 * this one spells "TRBADMIN" in ASCII, to be recognisable in pg_locks.)
 */
const ACCOUNT_CREATION_LOCK = '6075991695362443598';

/** True when `email` is listed in ADMIN_EMAILS (already lower-cased by the config). */
export function isAdminEmail(adminEmails: readonly string[], email: string | null | undefined): boolean {
  return email !== null && email !== undefined && adminEmails.includes(email.trim().toLowerCase());
}

/**
 * The role for an account about to be inserted in `tx`: admin when it will be the first account
 * or its e-mail is in ADMIN_EMAILS. Takes the account-creation lock (held until `tx` ends), so
 * call it in the same transaction as the insert and right before it.
 */
export async function roleForNewAccount(
  tx: Tx,
  adminEmails: readonly string[],
  email: string | null,
): Promise<string> {
  await tx.execute(sql`select pg_advisory_xact_lock(${ACCOUNT_CREATION_LOCK}::bigint)`);
  if (isAdminEmail(adminEmails, email)) return ADMIN_ROLE;
  const [any] = await tx.select({ id: users.id }).from(users).limit(1);
  return any ? USER_ROLE : ADMIN_ROLE;
}

/** Promotes an account to admin (never the other way); a no-op when it already is one. */
export async function promoteToAdmin(tx: Tx, userId: string): Promise<void> {
  await tx.update(users).set({ role: ADMIN_ROLE, updatedAt: new Date() }).where(eq(users.id, userId));
}

/** The account's role as the database has it now (null: no such account). Never cached. */
export function currentRole(db: AppDatabase, userId: string): Promise<string | null> {
  return asSystem(db, 'admin checks read the caller role afresh each time', async (tx) => {
    const [row] = await tx.select({ role: users.role }).from(users).where(eq(users.id, userId));
    return row?.role ?? null;
  });
}
