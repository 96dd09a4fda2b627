import { and, desc, eq, isNull, lt, sql } from 'drizzle-orm';
import type { Config } from '../config.js';
import type { AppDatabase, Tx } from '../db/client.js';
import { newId } from '../db/ids.js';
import { apiKeys, refreshTokens, users } from '../db/schema.js';
import { asSystem, withUser } from '../db/scope.js';
import { AppError, errors } from '../http/errors.js';
import { AccessTokens } from './access-tokens.js';
import { hashPassword, verifyPassword } from './passwords.js';
import { ADMIN_ROLE, isAdminEmail, promoteToAdmin, roleForNewAccount } from './roles.js';
import { randomToken, sha256Hex } from './secrets.js';
import { SupabaseTokens } from './supabase-tokens.js';

/** `admin_session`: the admin dashboard's cookie (src/admin), accepted nowhere else. */
export type AuthMethod = 'jwt' | 'api_key' | 'supabase' | 'admin_session';

export interface AuthContext {
  userId: string;
  method: AuthMethod;
}

export interface PublicUser {
  id: string;
  email: string | null;
  role: string;
  created_at: string;
}

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  token_type: 'bearer';
  expires_in: number;
  user: PublicUser;
}

export interface PublicApiKey {
  id: string;
  name: string;
  prefix: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

export const API_KEY_PREFIX = 'trb_';

// Writing last_used_at on every request would turn reads into writes; a minute is precise enough.
const LAST_USED_RESOLUTION_MS = 60_000;

type UserRow = typeof users.$inferSelect;
type ApiKeyRow = typeof apiKeys.$inferSelect;

function publicUser(row: UserRow): PublicUser {
  return { id: row.id, email: row.email, role: row.role, created_at: row.createdAt.toISOString() };
}

function publicApiKey(row: ApiKeyRow): PublicApiKey {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    created_at: row.createdAt.toISOString(),
    expires_at: row.expiresAt?.toISOString() ?? null,
    last_used_at: row.lastUsedAt?.toISOString() ?? null,
    revoked_at: row.revokedAt?.toISOString() ?? null,
  };
}

function isUniqueViolation(error: unknown): boolean {
  for (let e: unknown = error; e; e = (e as { cause?: unknown }).cause) {
    if ((e as { code?: string }).code === '23505') return true;
  }
  return false;
}

/** How long an account confirmed to exist is trusted without asking the database again. */
const SEEN_ACCOUNT_MS = 5_000;
const SEEN_ACCOUNTS_MAX = 10_000;

export class AuthService {
  readonly accessTokens: AccessTokens;
  private readonly recentlySeen = new Map<string, number>();
  private readonly supabase: SupabaseTokens | null;

  constructor(
    private readonly db: AppDatabase,
    private readonly config: Config,
  ) {
    this.accessTokens = new AccessTokens(config);
    this.supabase = SupabaseTokens.fromConfig(config.supabase);
  }

  async register(email: string, password: string): Promise<TokenPair> {
    const normalized = email.trim().toLowerCase();
    const passwordHash = await hashPassword(password);
    let row: UserRow;
    try {
      row = await asSystem(this.db, 'create an account before it has a user', async (tx) => {
        const role = await roleForNewAccount(tx, this.config.adminEmails, normalized);
        const [created] = await tx
          .insert(users)
          .values({ id: newId(), email: normalized, passwordHash, role })
          .returning();
        return created!;
      });
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw new AppError('email_taken', 'An account with this e-mail already exists');
      }
      throw error;
    }
    return this.issuePair(row);
  }

  async login(email: string, password: string): Promise<TokenPair> {
    const normalized = email.trim().toLowerCase();
    const row = await asSystem(this.db, 'log-in looks the account up by e-mail', async (tx) => {
      const [found] = await tx
        .select()
        .from(users)
        .where(and(sql`lower(${users.email}) = ${normalized}`, isNull(users.supabaseId)));
      return found;
    });
    const ok = await verifyPassword(row?.passwordHash ?? null, password);
    if (!row || !ok) throw errors.invalidCredentials();
    // An address added to ADMIN_EMAILS after the account was made is promoted here; nobody is demoted.
    if (row.role !== ADMIN_ROLE && isAdminEmail(this.config.adminEmails, row.email)) {
      await asSystem(this.db, 'log-in promotes an account listed in ADMIN_EMAILS', (tx) => promoteToAdmin(tx, row.id));
      return this.issuePair({ ...row, role: ADMIN_ROLE });
    }
    return this.issuePair(row);
  }

  /**
   * Rotates a refresh token. Presenting one that was already used means it leaked: the whole
   * family (every token descended from that log-in) is revoked, the thief's and the owner's.
   */
  async refresh(token: string): Promise<TokenPair> {
    const tokenHash = sha256Hex(token);
    const outcome = await asSystem(this.db, 'refresh tokens are looked up by hash', async (tx) => {
      const [row] = await tx
        .select()
        .from(refreshTokens)
        .where(eq(refreshTokens.tokenHash, tokenHash))
        .for('update');
      if (!row) return { kind: 'unknown' as const };
      if (row.revokedAt) return { kind: 'revoked' as const };
      if (row.usedAt) {
        await revokeFamily(tx, row.familyId);
        return { kind: 'reused' as const };
      }
      if (row.expiresAt.getTime() <= Date.now()) return { kind: 'expired' as const };
      await tx.update(refreshTokens).set({ usedAt: new Date() }).where(eq(refreshTokens.id, row.id));
      const [user] = await tx.select().from(users).where(eq(users.id, row.userId));
      if (!user) return { kind: 'unknown' as const };
      const refreshToken = await this.insertRefreshToken(tx, user.id, row.familyId);
      return { kind: 'rotated' as const, user, refreshToken };
    });
    switch (outcome.kind) {
      case 'unknown':
        throw errors.invalidToken('Unknown refresh token');
      case 'revoked':
        throw errors.invalidToken('This refresh token was revoked');
      case 'reused':
        throw errors.invalidToken('This refresh token was already used; every session of that log-in is now revoked');
      case 'expired':
        throw errors.tokenExpired();
      case 'rotated':
        return this.pairFor(outcome.user, outcome.refreshToken);
    }
  }

  /** Ends the log-in the refresh token belongs to. Unknown tokens are ignored: logging out twice is fine. */
  async logout(token: string): Promise<void> {
    const tokenHash = sha256Hex(token);
    await asSystem(this.db, 'refresh tokens are looked up by hash', async (tx) => {
      const [row] = await tx
        .select({ familyId: refreshTokens.familyId })
        .from(refreshTokens)
        .where(eq(refreshTokens.tokenHash, tokenHash));
      if (row) await revokeFamily(tx, row.familyId);
    });
  }

  async me(userId: string): Promise<PublicUser> {
    const row = await withUser(this.db, userId, async (tx) => {
      const [found] = await tx.select().from(users).where(eq(users.id, userId));
      return found;
    });
    if (!row) throw errors.invalidToken('The account behind this token no longer exists');
    return publicUser(row);
  }

  /** Resolves a bearer credential (our JWT, a Supabase JWT or an API key) to a user. */
  async authenticate(bearer: string): Promise<AuthContext> {
    if (bearer.startsWith(API_KEY_PREFIX)) {
      return { userId: await this.verifyApiKey(bearer), method: 'api_key' };
    }
    if (this.supabase && !this.accessTokens.claimsToBeOurs(bearer)) {
      const identity = await this.supabase.verify(bearer);
      return { userId: await this.supabaseUser(identity.subject, identity.email), method: 'supabase' };
    }
    const { userId } = await this.accessTokens.verify(bearer);
    // A valid signature outlives the account; the token must not. A few seconds' memory of
    // accounts just seen spares a database round trip on every request of a busy client.
    const seen = this.recentlySeen.get(userId);
    if (seen === undefined || seen < Date.now()) {
      const exists = await asSystem(this.db, 'check that a token still has an account', async (tx) => {
        const [row] = await tx.select({ id: users.id }).from(users).where(eq(users.id, userId));
        return row !== undefined;
      });
      if (!exists) throw errors.invalidToken('The account behind this token no longer exists');
      if (this.recentlySeen.size >= SEEN_ACCOUNTS_MAX) this.recentlySeen.clear();
      this.recentlySeen.set(userId, Date.now() + SEEN_ACCOUNT_MS);
    }
    return { userId, method: 'jwt' };
  }

  async createApiKey(
    userId: string,
    name: string,
    expiresInDays: number | undefined,
  ): Promise<PublicApiKey & { key: string }> {
    const key = `${API_KEY_PREFIX}${randomToken(24)}`;
    const expiresAt = expiresInDays ? new Date(Date.now() + expiresInDays * 86_400_000) : null;
    const row = await withUser(this.db, userId, async (tx) => {
      const [created] = await tx
        .insert(apiKeys)
        .values({
          id: newId(),
          userId,
          name,
          prefix: key.slice(0, API_KEY_PREFIX.length + 6),
          keyHash: sha256Hex(key),
          expiresAt,
        })
        .returning();
      return created!;
    });
    return { ...publicApiKey(row), key };
  }

  listApiKeys(userId: string): Promise<PublicApiKey[]> {
    return withUser(this.db, userId, async (tx) => {
      const rows = await tx.select().from(apiKeys).orderBy(desc(apiKeys.id));
      return rows.map(publicApiKey);
    });
  }

  async revokeApiKey(userId: string, id: string): Promise<void> {
    const revoked = await withUser(this.db, userId, async (tx) => {
      const rows = await tx
        .update(apiKeys)
        .set({ revokedAt: new Date() })
        .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
        .returning({ id: apiKeys.id });
      if (rows.length > 0) return true;
      const [existing] = await tx.select({ id: apiKeys.id }).from(apiKeys).where(eq(apiKeys.id, id));
      return existing !== undefined;
    });
    if (!revoked) throw errors.notFound('API key');
  }

  private async verifyApiKey(key: string): Promise<string> {
    const keyHash = sha256Hex(key);
    return asSystem(this.db, 'API keys are looked up by hash', async (tx) => {
      const [row] = await tx.select().from(apiKeys).where(eq(apiKeys.keyHash, keyHash));
      if (!row || row.revokedAt) throw errors.invalidToken('Unknown or revoked API key');
      if (row.expiresAt && row.expiresAt.getTime() <= Date.now()) {
        throw errors.invalidToken('This API key has expired');
      }
      const stale = new Date(Date.now() - LAST_USED_RESOLUTION_MS);
      if (!row.lastUsedAt || row.lastUsedAt < stale) {
        await tx
          .update(apiKeys)
          .set({ lastUsedAt: new Date() })
          .where(and(eq(apiKeys.id, row.id), sql`(${apiKeys.lastUsedAt} is null or ${lt(apiKeys.lastUsedAt, stale)})`));
      }
      return row.userId;
    });
  }

  /**
   * The local user for a Supabase subject, created the first time it is seen (admin when it is the
   * first account or its e-mail is in ADMIN_EMAILS). A Supabase token is its holder's log-in, so a
   * known user whose e-mail was added to ADMIN_EMAILS later is promoted on its next request.
   */
  private supabaseUser(subject: string, email: string | null): Promise<string> {
    return asSystem(this.db, 'first sight of a Supabase user creates the local account', async (tx) => {
      const [existing] = await tx
        .select({ id: users.id, role: users.role })
        .from(users)
        .where(eq(users.supabaseId, subject));
      if (existing) {
        if (existing.role !== ADMIN_ROLE && isAdminEmail(this.config.adminEmails, email)) {
          await promoteToAdmin(tx, existing.id);
        }
        return existing.id;
      }
      const role = await roleForNewAccount(tx, this.config.adminEmails, email);
      await tx
        .insert(users)
        .values({ id: newId(), email, supabaseId: subject, role })
        .onConflictDoNothing({ target: users.supabaseId });
      const [row] = await tx.select({ id: users.id }).from(users).where(eq(users.supabaseId, subject));
      return row!.id;
    });
  }

  private async issuePair(user: UserRow): Promise<TokenPair> {
    const refreshToken = await asSystem(this.db, 'a new log-in starts a refresh-token family', (tx) =>
      this.insertRefreshToken(tx, user.id, newId()),
    );
    return this.pairFor(user, refreshToken);
  }

  private async insertRefreshToken(tx: Tx, userId: string, familyId: string): Promise<string> {
    const token = randomToken(32);
    await tx.insert(refreshTokens).values({
      id: newId(),
      userId,
      familyId,
      tokenHash: sha256Hex(token),
      expiresAt: new Date(Date.now() + this.config.refreshTokenExpireDays * 86_400_000),
    });
    return token;
  }

  private async pairFor(user: UserRow, refreshToken: string): Promise<TokenPair> {
    const access = await this.accessTokens.issue(user.id);
    return {
      access_token: access.token,
      refresh_token: refreshToken,
      token_type: 'bearer',
      expires_in: access.expiresIn,
      user: publicUser(user),
    };
  }
}

async function revokeFamily(tx: Tx, familyId: string): Promise<void> {
  await tx
    .update(refreshTokens)
    .set({ revokedAt: new Date() })
    .where(and(eq(refreshTokens.familyId, familyId), isNull(refreshTokens.revokedAt)));
}
