import { eq, inArray, lt } from 'drizzle-orm';
import type { Config } from '../config.js';
import type { AppDatabase } from '../db/client.js';
import { loginAttempts } from '../db/schema.js';
import { asSystem } from '../db/scope.js';
import { AppError, retryAfterHeader } from '../http/errors.js';
import { sha256Hex } from './secrets.js';

/** Failures older than this are forgotten: an owner's occasional typo never adds up to a wait. */
const FORGET_AFTER_MS = 15 * 60_000;
/** Rows idle this long are removed, a few at a time, as new accounts are tried. */
const PRUNE_AFTER_MS = 24 * 60 * 60_000;
const PRUNE_BATCH = 20;

export type LoginThrottleSettings = Pick<Config, 'loginMaxFailures' | 'loginBackoffSeconds' | 'loginBackoffMaxSeconds'>;

/**
 * Log-in attempts per account, in PostgreSQL so every API process counts the same attempts (the
 * per-address limit alone lets a guesser with many addresses through). After loginMaxFailures
 * attempts without a success, each further attempt must wait loginBackoffSeconds, doubling up to
 * loginBackoffMaxSeconds: a guesser gets a handful of guesses an hour, and the owner is never shut
 * out for longer than that cap after the guessing stops. Attempts refused while waiting are not
 * counted, so they cannot extend the wait. A success clears the count.
 *
 * The account is named by its lower-cased e-mail whether or not an account has it, so a wait says
 * nothing about which accounts exist.
 */
export class LoginThrottle {
  constructor(
    private readonly db: AppDatabase,
    private readonly settings: LoginThrottleSettings,
  ) {}

  /**
   * Counts an attempt before its password is checked (so parallel guesses cannot all slip in
   * before the first is counted); throws 429 rate_limited with Retry-After while the account waits.
   */
  async begin(email: string): Promise<void> {
    const accountKey = sha256Hex(email);
    const waitMs = await asSystem(this.db, 'log-in attempts are counted per account, before there is a user', async (tx) => {
      const inserted = await tx
        .insert(loginAttempts)
        .values({ accountKey })
        .onConflictDoNothing()
        .returning({ accountKey: loginAttempts.accountKey });
      if (inserted.length > 0) {
        const stale = tx
          .select({ accountKey: loginAttempts.accountKey })
          .from(loginAttempts)
          .where(lt(loginAttempts.updatedAt, new Date(Date.now() - PRUNE_AFTER_MS)))
          .limit(PRUNE_BATCH);
        await tx.delete(loginAttempts).where(inArray(loginAttempts.accountKey, stale));
      }
      const [row] = await tx.select().from(loginAttempts).where(eq(loginAttempts.accountKey, accountKey)).for('update');
      const now = Date.now();
      if (row!.lockedUntil && row!.lockedUntil.getTime() > now) return row!.lockedUntil.getTime() - now;
      const failures = (row!.updatedAt.getTime() < now - FORGET_AFTER_MS ? 0 : row!.failures) + 1;
      const lockedUntil = failures >= this.settings.loginMaxFailures ? new Date(now + this.waitAfter(failures)) : null;
      await tx
        .update(loginAttempts)
        .set({ failures, lockedUntil, updatedAt: new Date(now) })
        .where(eq(loginAttempts.accountKey, accountKey));
      return 0;
    });
    if (waitMs > 0) {
      throw new AppError(
        'rate_limited',
        'Too many failed log-ins for this account; wait before trying again',
        undefined,
        retryAfterHeader('rate_limited', waitMs),
      );
    }
  }

  /** The right password: the account's count starts again. */
  async succeeded(email: string): Promise<void> {
    await asSystem(this.db, 'a successful log-in clears its account attempts', (tx) =>
      tx.delete(loginAttempts).where(eq(loginAttempts.accountKey, sha256Hex(email))),
    );
  }

  private waitAfter(failures: number): number {
    const { loginMaxFailures, loginBackoffSeconds, loginBackoffMaxSeconds } = this.settings;
    // 2 ** 30 is far past any cap; bounding the exponent keeps the arithmetic finite.
    const exponent = Math.min(failures - loginMaxFailures, 30);
    return Math.min(loginBackoffSeconds * 2 ** exponent, loginBackoffMaxSeconds) * 1000;
  }
}
