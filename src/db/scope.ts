import { sql } from 'drizzle-orm';
import type { AppDatabase, Tx } from './client.js';

/*
 * The only two ways the application touches user data. withUser() is what requests use: Postgres
 * itself limits every statement to the caller's rows. asSystem() is the explicit, greppable
 * exception for work that has no user yet (log-in, token look-ups) or acts for all of them.
 */

export const APP_ROLE = 'transcribo_app';
export const SYSTEM_ROLE = 'transcribo_system';

export function withUser<T>(db: AppDatabase, userId: string, work: (tx: Tx) => Promise<T>): Promise<T> {
  return db.transaction(async (tx) => {
    // One round trip: set_config('role', …, true) is SET LOCAL ROLE.
    await tx.execute(sql`select set_config('app.user_id', ${userId}, true), set_config('role', ${APP_ROLE}, true)`);
    return work(tx);
  });
}

/** `reason` says why RLS is bypassed; it costs nothing and makes every use easy to review. */
export function asSystem<T>(db: AppDatabase, reason: string, work: (tx: Tx) => Promise<T>): Promise<T> {
  void reason;
  return db.transaction(async (tx) => {
    await tx.execute(sql.raw(`set local role ${SYSTEM_ROLE}`));
    return work(tx);
  });
}
