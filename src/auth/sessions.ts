import { and, eq, isNull, sql } from 'drizzle-orm';
import pg from 'pg';
import type { AppDatabase, Database } from '../db/client.js';
import { compileRead, readAsUser, reads } from '../db/read.js';
import { refreshTokens } from '../db/schema.js';
import { errors } from '../http/errors.js';

/**
 * How long a log-in seen alive is trusted without asking the database again: the longest a logout
 * or a revocation made by another API process takes to reach this one. (This process forgets a
 * session it revokes itself at once.)
 */
export const SESSION_RECHECK_MS = 5_000;
const REMEMBERED_MAX = 10_000;

/** A log-in is alive while a token of its refresh-token family is unrevoked (and so its account exists). */
const LIVE_TOKEN = compileRead(
  reads
    .select({ id: refreshTokens.id })
    .from(refreshTokens)
    .where(and(eq(refreshTokens.familyId, sql.placeholder('sid')), isNull(refreshTokens.revokedAt)))
    .limit(1),
);

/**
 * Whether the log-in (session) an access token belongs to still stands. The check is one round
 * trip under the caller's row-level security (src/db/read.ts), made at most once per
 * SESSION_RECHECK_MS per session, so the authenticated read path stays as cheap as before.
 */
export class SessionCheck {
  private readonly database: Pick<Database, 'pool'>;
  private readonly aliveUntil = new Map<string, number>();
  /** Sessions this process ended; a check already in flight must not remember them as alive. */
  private readonly ended = new Set<string>();

  constructor(db: AppDatabase) {
    this.database = { pool: poolOf(db) };
  }

  async assertAlive(userId: string, sessionId: string): Promise<void> {
    if (this.ended.has(sessionId)) throw sessionEnded();
    const until = this.aliveUntil.get(sessionId);
    if (until !== undefined && until > Date.now()) return;
    const rows = await readAsUser(this.database, userId, LIVE_TOKEN, { sid: sessionId });
    if (rows.length === 0) {
      this.aliveUntil.delete(sessionId);
      throw sessionEnded();
    }
    if (this.ended.has(sessionId)) throw sessionEnded();
    if (this.aliveUntil.size >= REMEMBERED_MAX) this.aliveUntil.clear();
    this.aliveUntil.set(sessionId, Date.now() + SESSION_RECHECK_MS);
  }

  /** Called once this process has revoked a session: its access tokens stop here at once. */
  forget(sessionId: string): void {
    this.aliveUntil.delete(sessionId);
    if (this.ended.size >= REMEMBERED_MAX) this.ended.clear();
    this.ended.add(sessionId);
  }
}

function sessionEnded() {
  return errors.invalidToken('This log-in has ended (logged out, revoked, or its account is gone)');
}

/**
 * The pool behind a drizzle node-postgres database (drizzle's documented `$client`): the services
 * are handed `db`, and a one-message read needs the pool itself.
 */
function poolOf(db: AppDatabase): pg.Pool {
  const client = (db as unknown as { $client?: unknown }).$client;
  if (!(client instanceof pg.Pool)) throw new Error('The auth service needs a node-postgres pool behind its database');
  return client;
}
