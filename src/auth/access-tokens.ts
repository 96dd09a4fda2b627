import { SignJWT, decodeJwt, errors as joseErrors, jwtVerify, type CryptoKey } from 'jose';
import type { Config } from '../config.js';
import { errors } from '../http/errors.js';
import { isUuid, newId } from '../db/ids.js';

export interface IssuedAccessToken {
  token: string;
  expiresIn: number;
}

/** What a non-access token made by AccessTokens is for (its `typ` claim). */
export type TokenPurpose = 'admin_session';

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

  async issue(userId: string): Promise<IssuedAccessToken> {
    return this.sign(userId, 'access', this.config.accessTokenExpireMinutes * 60);
  }

  /**
   * A token for one narrower purpose (the admin dashboard's cookie): same key, issuer and audience,
   * but its `typ` keeps it from ever passing as an access token, and it lives no longer than one.
   */
  issueFor(purpose: TokenPurpose, userId: string, maxSeconds: number): Promise<IssuedAccessToken> {
    return this.sign(userId, purpose, Math.min(maxSeconds, this.config.accessTokenExpireMinutes * 60));
  }

  private async sign(userId: string, typ: 'access' | TokenPurpose, expiresIn: number): Promise<IssuedAccessToken> {
    const token = await new SignJWT({ typ })
      .setProtectedHeader({ alg: this.config.algorithm, typ: 'JWT' })
      .setSubject(userId)
      .setIssuer(this.config.jwtIssuer)
      .setAudience(this.config.jwtAudience)
      .setIssuedAt()
      .setJti(newId())
      .setExpirationTime(`${expiresIn}s`)
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
   * Access tokens already verified, until they expire. A busy client sends the same token with
   * every request, and checking its signature again gives the same answer until `exp` (the only
   * claim whose check depends on the time): a lookup by the exact token text replaces the check.
   */
  private readonly verified = new Map<string, { userId: string; expiresAtMs: number }>();

  async verify(token: string): Promise<{ userId: string }> {
    const known = this.verified.get(token);
    if (known && known.expiresAtMs > Date.now()) return { userId: known.userId };
    const { userId, exp } = await this.verifyTyp(token, 'access');
    if (this.verified.size >= VERIFIED_TOKENS_MAX) this.verified.clear();
    this.verified.set(token, { userId, expiresAtMs: exp * 1000 });
    return { userId };
  }

  /** Verifies a token made by issueFor(purpose); access tokens and other purposes are refused. */
  async verifyFor(purpose: TokenPurpose, token: string): Promise<{ userId: string }> {
    return { userId: (await this.verifyTyp(token, purpose)).userId };
  }

  private async verifyTyp(token: string, typ: 'access' | TokenPurpose): Promise<{ userId: string; exp: number }> {
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
      return { userId: payload.sub, exp: payload.exp };
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
