import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Config } from '../config.js';
import type { AppDatabase } from '../db/client.js';
import { newId } from '../db/ids.js';
import { users } from '../db/schema.js';
import { asSystem, withUser } from '../db/scope.js';
import { AppError, errors } from '../http/errors.js';
import { AccessTokens, type IssueAt } from './access-tokens.js';
import { API_KEY_PREFIX, ApiKeys } from './api-keys.js';
import { LoginThrottle } from './login-throttle.js';
import { hashPassword, verifyPassword } from './passwords.js';
import { RefreshTokens } from './refresh-tokens.js';
import { ADMIN_ROLE, isAdminEmail, promoteToAdmin, roleForNewAccount } from './roles.js';
import type { ApiKeyScope } from './scopes.js';
import { SessionCheck } from './sessions.js';
import { SupabaseTokens } from './supabase-tokens.js';

/** `admin_session`: the admin dashboard's cookie (src/admin), accepted nowhere else. */
export type AuthMethod = 'jwt' | 'api_key' | 'supabase' | 'admin_session';

export interface AuthContext {
  userId: string;
  method: AuthMethod;
  /** An API key's scopes (src/auth/scopes.ts); other methods are interactive and need none. */
  scopes?: readonly ApiKeyScope[];
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

type UserRow = typeof users.$inferSelect;

function publicUser(row: UserRow): PublicUser {
  return { id: row.id, email: row.email, role: row.role, created_at: row.createdAt.toISOString() };
}

function isUniqueViolation(error: unknown): boolean {
  for (let e: unknown = error; e; e = (e as { cause?: unknown }).cause) {
    if ((e as { code?: string }).code === '23505') return true;
  }
  return false;
}

export class AuthService {
  readonly accessTokens: AccessTokens;
  readonly apiKeys: ApiKeys;
  private readonly refreshTokens: RefreshTokens;
  private readonly sessions: SessionCheck;
  private readonly loginThrottle: LoginThrottle;
  private readonly supabase: SupabaseTokens | null;

  constructor(
    private readonly db: AppDatabase,
    private readonly config: Config,
  ) {
    this.accessTokens = new AccessTokens(config);
    this.apiKeys = new ApiKeys(db);
    this.refreshTokens = new RefreshTokens(db, config);
    this.sessions = new SessionCheck(db);
    this.loginThrottle = new LoginThrottle(db, config);
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
    return this.startSession(row);
  }

  /** Throws 429 rate_limited (with Retry-After) while the account waits out failed attempts. */
  async login(email: string, password: string): Promise<TokenPair> {
    const normalized = email.trim().toLowerCase();
    await this.loginThrottle.begin(normalized);
    const row = await asSystem(this.db, 'log-in looks the account up by e-mail', async (tx) => {
      const [found] = await tx
        .select()
        .from(users)
        .where(and(sql`lower(${users.email}) = ${normalized}`, isNull(users.supabaseId)));
      return found;
    });
    const ok = await verifyPassword(row?.passwordHash ?? null, password);
    if (!row || !ok) throw errors.invalidCredentials();
    await this.loginThrottle.succeeded(normalized);
    // An address added to ADMIN_EMAILS after the account was made is promoted here; nobody is demoted.
    if (row.role !== ADMIN_ROLE && isAdminEmail(this.config.adminEmails, row.email)) {
      await asSystem(this.db, 'log-in promotes an account listed in ADMIN_EMAILS', (tx) => promoteToAdmin(tx, row.id));
      return this.startSession({ ...row, role: ADMIN_ROLE });
    }
    return this.startSession(row);
  }

  /**
   * Rotates a refresh token (src/auth/refresh-tokens.ts). A replay revokes its log-in, and the
   * access tokens of that log-in stop with it.
   */
  async refresh(token: string): Promise<TokenPair> {
    const rotation = await this.refreshTokens.rotate(token, (sessionId) => this.sessions.forget(sessionId));
    const pair = await this.pairFor(rotation.user, rotation.sessionId, rotation.refreshToken, rotation.access);
    if (rotation.repeated) {
      // The same access token as the first answer: it has less time left.
      const expiresAt = Math.floor(rotation.access.issuedAtMs / 1000) + pair.expires_in;
      pair.expires_in = Math.max(0, expiresAt - Math.floor(Date.now() / 1000));
    }
    return pair;
  }

  /**
   * Ends the log-in the refresh token belongs to, with its access tokens. Unknown tokens are
   * ignored: logging out twice is fine.
   */
  async logout(token: string): Promise<void> {
    const sessionId = await this.refreshTokens.end(token);
    if (sessionId) this.sessions.forget(sessionId);
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
      const key = await this.apiKeys.verify(bearer);
      return { userId: key.userId, method: 'api_key', scopes: key.scopes };
    }
    if (this.supabase && !this.accessTokens.claimsToBeOurs(bearer)) {
      const identity = await this.supabase.verify(bearer);
      return { userId: await this.supabaseUser(identity.subject, identity.email), method: 'supabase' };
    }
    const { userId, sessionId } = await this.accessTokens.verify(bearer);
    // A valid signature outlives a logout, a revoked log-in and the account itself; the token must not.
    await this.sessions.assertAlive(userId, sessionId);
    return { userId, method: 'jwt' };
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

  private async startSession(user: UserRow): Promise<TokenPair> {
    const { refreshToken, sessionId } = await this.refreshTokens.start(user.id);
    return this.pairFor(user, sessionId, refreshToken);
  }

  private async pairFor(user: UserRow, sessionId: string, refreshToken: string, at?: IssueAt): Promise<TokenPair> {
    const access = await this.accessTokens.issue({ userId: user.id, sessionId }, at);
    return {
      access_token: access.token,
      refresh_token: refreshToken,
      token_type: 'bearer',
      expires_in: access.expiresIn,
      user: publicUser(user),
    };
  }
}
