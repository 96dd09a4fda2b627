import { SignJWT, decodeJwt, errors as joseErrors, jwtVerify, type CryptoKey, type JWTPayload } from 'jose';
import type { Config } from '../config.js';
import { errors } from '../http/errors.js';
import { isUuid, newId } from '../db/ids.js';

export interface IssuedAccessToken {
  token: string;
  expiresIn: number;
}

/** Who an access token speaks for: the account, and the log-in (refresh-token family) it belongs to. */
export interface AccessClaims {
  userId: string;
  sessionId: string;
}

/**
 * Fixes an access token's `iat` and `jti`, which otherwise are now and a fresh id. The same values
 * sign the same token again: a refresh answered twice within the reuse grace returns one pair.
 */
export interface IssueAt {
  issuedAtMs: number;
  tokenId: string;
}

/** What a non-access token made by AccessTokens is for (its `typ` claim). */
export type TokenPurpose = 'admin_session' | 'realtime_client_secret';

/** Bounds the memory of verified tokens; past it, the memory starts again empty. */
const VERIFIED_TOKENS_MAX = 10_000;

/** Our own access tokens: short-lived JWTs signed with SECRET_KEY. */
export class AccessTokens {
  /**
   * Imported once: given the raw bytes, jose imports a new CryptoKey for every signature it checks,
   * which costs as much again as the check itself.
   */
  private readonly key: Promise<CryptoKey>;

  constructor(private readonly config: Pick<Config, 'secretKey' | 'algorithm' | 'accessTokenExpireMinutes' | 'jwtIssuer' | 'jwtAudience'>) {
    const hash = `SHA-${config.algorithm.slice(2)}`; // HS256 → SHA-256
    this.key = crypto.subtle.importKey('raw', new TextEncoder().encode(config.secretKey), { name: 'HMAC', hash }, false, [
      'sign',
      'verify',
    ]);
    // Handled where it is awaited; this only keeps a failed import from crashing the process first.
    this.key.catch(() => undefined);
  }

  /** An access token of one log-in: its `sid` is checked against revocation on every use. */
  async issue(claims: AccessClaims, at?: IssueAt): Promise<IssuedAccessToken> {
    return this.sign(claims.userId, 'access', this.config.accessTokenExpireMinutes * 60, { sid: claims.sessionId }, at);
  }

  /**
   * A token for one narrower purpose (the admin dashboard's cookie): same key, issuer and audience,
   * but its `typ` keeps it from ever passing as an access token, and it lives no longer than one.
   */
  issueFor(purpose: TokenPurpose, userId: string, maxSeconds: number, extra: Record<string, string> = {}): Promise<IssuedAccessToken> {
    return this.sign(userId, purpose, Math.min(maxSeconds, this.config.accessTokenExpireMinutes * 60), extra);
  }

  private async sign(
    userId: string,
    typ: 'access' | TokenPurpose,
    expiresIn: number,
    extra: Record<string, string> = {},
    at?: IssueAt,
  ): Promise<IssuedAccessToken> {
    const issuedAt = Math.floor((at?.issuedAtMs ?? Date.now()) / 1000);
    const token = await new SignJWT({ typ, ...extra })
      .setProtectedHeader({ alg: this.config.algorithm, typ: 'JWT' })
      .setSubject(userId)
      .setIssuer(this.config.jwtIssuer)
      .setAudience(this.config.jwtAudience)
      .setIssuedAt(issuedAt)
      .setJti(at?.tokenId ?? newId())
      .setExpirationTime(issuedAt + expiresIn)
      .sign(await this.key);
    return { token, expiresIn };
  }

  /** True when the token claims to be ours, so it is checked here and nowhere else. */
  claimsToBeOurs(token: string): boolean {
    try {
      return decodeJwt(token).iss === this.config.jwtIssuer;
    } catch {
      return false;
    }
  }

  /**
   * Access tokens whose signature was already verified, until they expire. A busy client sends the
   * same token with every request, and checking its signature again gives the same answer until
   * `exp` (the only claim whose check depends on the time): a lookup by the exact token text
   * replaces the check. It says nothing about revocation: callers check the session
   * (AuthService.authenticate) on every use, remembered or not.
   */
  private readonly verified = new Map<string, AccessClaims & { expiresAtMs: number }>();

  async verify(token: string): Promise<AccessClaims> {
    const known = this.verified.get(token);
    if (known && known.expiresAtMs > Date.now()) return { userId: known.userId, sessionId: known.sessionId };
    const { userId, exp, payload } = await this.verifyTyp(token, 'access');
    // Every access token belongs to a log-in; one without (or made before sessions existed) cannot be revoked.
    if (typeof payload.sid !== 'string' || !isUuid(payload.sid)) throw errors.invalidToken();
    const claims = { userId, sessionId: payload.sid };
    if (this.verified.size >= VERIFIED_TOKENS_MAX) this.verified.clear();
    this.verified.set(token, { ...claims, expiresAtMs: exp * 1000 });
    return claims;
  }

  /** Verifies a token made by issueFor(purpose); access tokens and other purposes are refused. */
  async verifyFor(purpose: TokenPurpose, token: string): Promise<{ userId: string }> {
    return { userId: (await this.verifyTyp(token, purpose)).userId };
  }

  /** verifyFor, with the token's claims (those given to issueFor as `extra` among them). */
  async verifyClaimsFor(purpose: TokenPurpose, token: string): Promise<{ userId: string; exp: number; payload: JWTPayload }> {
    return this.verifyTyp(token, purpose);
  }

  private async verifyTyp(
    token: string,
    typ: 'access' | TokenPurpose,
  ): Promise<{ userId: string; exp: number; payload: JWTPayload }> {
    try {
      const { payload } = await jwtVerify(token, await this.key, {
        algorithms: [this.config.algorithm],
        issuer: this.config.jwtIssuer,
        audience: this.config.jwtAudience,
        requiredClaims: ['sub', 'exp'],
      });
      // A subject that is not one of our ids (a forged-but-signed or foreign token) is just invalid.
      if (payload.typ !== typ || typeof payload.sub !== 'string' || !isUuid(payload.sub) || typeof payload.exp !== 'number') {
        throw errors.invalidToken();
      }
      return { userId: payload.sub, exp: payload.exp, payload };
    } catch (error) {
      throw tokenError(error);
    }
  }
}

export function tokenError(error: unknown): Error {
  if (error instanceof joseErrors.JWTExpired) return errors.tokenExpired();
  if (error instanceof joseErrors.JOSEError) return errors.invalidToken();
  return error instanceof Error ? error : errors.invalidToken();
}
