import { createHmac } from 'node:crypto';
import { and, eq, isNull } from 'drizzle-orm';
import type { Config } from '../config.js';
import type { AppDatabase, Tx } from '../db/client.js';
import { newId } from '../db/ids.js';
import { refreshTokens, users } from '../db/schema.js';
import { asSystem } from '../db/scope.js';
import { errors } from '../http/errors.js';
import type { IssueAt } from './access-tokens.js';
import { randomToken, sha256Hex } from './secrets.js';

type UserRow = typeof users.$inferSelect;
type RefreshRow = typeof refreshTokens.$inferSelect;

/** A refresh token handed out, with what its access token must be signed with. */
export interface Rotation {
  user: UserRow;
  refreshToken: string;
  /** The log-in: the refresh-token family, carried by access tokens as `sid`. */
  sessionId: string;
  /** Fixed so that answering the same rotation twice signs the same access token. */
  access: IssueAt;
  /** True when this answers a rotation already made (a second tab within the reuse grace). */
  repeated: boolean;
}

type Outcome =
  | { kind: 'unknown' | 'revoked' | 'expired' }
  | { kind: 'reused'; sessionId: string }
  | ({ kind: 'rotated' } & Omit<Rotation, 'refreshToken'>);

export type RefreshTokenSettings = Pick<Config, 'secretKey' | 'refreshTokenExpireDays' | 'refreshReuseGraceSeconds'>;

/**
 * Refresh tokens and the log-ins (families) they belong to. Each token works once; its successor is
 * derived from it with an HMAC under SECRET_KEY rather than drawn at random, so a token presented
 * again within the reuse grace (two tabs refreshing at once) is answered with the very pair the
 * first presentation got, while only hashes are stored. Presented again after the grace, or after
 * its successor was used, it means the token leaked: the whole family is revoked.
 */
export class RefreshTokens {
  constructor(
    private readonly db: AppDatabase,
    private readonly settings: RefreshTokenSettings,
  ) {}

  /** Starts a log-in: a new family with its first token. */
  async start(userId: string): Promise<{ refreshToken: string; sessionId: string }> {
    const sessionId = newId();
    const refreshToken = randomToken(32);
    await asSystem(this.db, 'a new log-in starts a refresh-token family', (tx) =>
      this.insert(tx, { id: newId(), userId, familyId: sessionId, token: refreshToken }),
    );
    return { refreshToken, sessionId };
  }

  /**
   * Trades a token for its successor. `onRevoked` hears of a family revoked for reuse (once its
   * revocation is committed), before the 401 is thrown.
   */
  async rotate(token: string, onRevoked: (sessionId: string) => void): Promise<Rotation> {
    const next = this.successorOf(token);
    const outcome = await asSystem(this.db, 'refresh tokens are looked up by hash', async (tx): Promise<Outcome> => {
      const [row] = await tx.select().from(refreshTokens).where(eq(refreshTokens.tokenHash, sha256Hex(token))).for('update');
      if (!row) return { kind: 'unknown' };
      if (row.revokedAt) return { kind: 'revoked' };
      if (row.usedAt) {
        const repeat = await this.repeatWithinGrace(tx, row, next);
        if (repeat) return repeat;
        await revokeFamily(tx, row.familyId);
        return { kind: 'reused', sessionId: row.familyId };
      }
      if (row.expiresAt.getTime() <= Date.now()) return { kind: 'expired' };
      const usedAt = new Date();
      await tx.update(refreshTokens).set({ usedAt }).where(eq(refreshTokens.id, row.id));
      const [user] = await tx.select().from(users).where(eq(users.id, row.userId));
      if (!user) return { kind: 'unknown' };
      const id = newId();
      await this.insert(tx, { id, userId: user.id, familyId: row.familyId, token: next });
      return {
        kind: 'rotated',
        user,
        sessionId: row.familyId,
        access: { issuedAtMs: usedAt.getTime(), tokenId: id },
        repeated: false,
      };
    });
    switch (outcome.kind) {
      case 'unknown':
        throw errors.invalidToken('Unknown refresh token');
      case 'revoked':
        throw errors.invalidToken('This refresh token was revoked');
      case 'reused':
        onRevoked(outcome.sessionId);
        throw errors.invalidToken('This refresh token was already used; every session of that log-in is now revoked');
      case 'expired':
        throw errors.tokenExpired();
      case 'rotated':
        return { ...outcome, refreshToken: next };
    }
  }

  /** Ends the log-in a token (any of its family, spent or not) belongs to; its id, or null when unknown. */
  async end(token: string): Promise<string | null> {
    return asSystem(this.db, 'refresh tokens are looked up by hash', async (tx) => {
      const [row] = await tx
        .select({ familyId: refreshTokens.familyId })
        .from(refreshTokens)
        .where(eq(refreshTokens.tokenHash, sha256Hex(token)));
      if (!row) return null;
      await revokeFamily(tx, row.familyId);
      return row.familyId;
    });
  }

  /**
   * The rotation `row` was already traded for, when it is recent and its successor still the
   * family's newest, unspent token; else null (a replay: the caller revokes the family).
   */
  private async repeatWithinGrace(tx: Tx, row: RefreshRow, next: string): Promise<Outcome | null> {
    const usedAt = row.usedAt!.getTime();
    if (Date.now() - usedAt > this.settings.refreshReuseGraceSeconds * 1000) return null;
    const [successor] = await tx
      .select()
      .from(refreshTokens)
      .where(eq(refreshTokens.tokenHash, sha256Hex(next)))
      .for('update');
    if (!successor || successor.familyId !== row.familyId || successor.usedAt || successor.revokedAt) return null;
    const [user] = await tx.select().from(users).where(eq(users.id, row.userId));
    if (!user) return { kind: 'unknown' };
    return {
      kind: 'rotated',
      user,
      sessionId: row.familyId,
      access: { issuedAtMs: usedAt, tokenId: successor.id },
      repeated: true,
    };
  }

  /** A token's successor: HMAC-SHA256 under SECRET_KEY, as long as a fresh random token. */
  private successorOf(token: string): string {
    return createHmac('sha256', this.settings.secretKey).update('transcribo refresh successor\0').update(token).digest('base64url');
  }

  private async insert(tx: Tx, row: { id: string; userId: string; familyId: string; token: string }): Promise<void> {
    await tx.insert(refreshTokens).values({
      id: row.id,
      userId: row.userId,
      familyId: row.familyId,
      tokenHash: sha256Hex(row.token),
      expiresAt: new Date(Date.now() + this.settings.refreshTokenExpireDays * 86_400_000),
    });
  }
}

async function revokeFamily(tx: Tx, familyId: string): Promise<void> {
  await tx
    .update(refreshTokens)
    .set({ revokedAt: new Date() })
    .where(and(eq(refreshTokens.familyId, familyId), isNull(refreshTokens.revokedAt)));
}
