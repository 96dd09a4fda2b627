import { SignJWT, decodeJwt, errors as joseErrors, jwtVerify } from 'jose';
import type { Config } from '../config.js';
import { errors } from '../http/errors.js';
import { newId } from '../db/ids.js';

export interface IssuedAccessToken {
  token: string;
  expiresIn: number;
}

/** What a non-access token made by AccessTokens is for (its `typ` claim). */
export type TokenPurpose = 'admin_session';

/** Our own access tokens: short-lived JWTs signed with SECRET_KEY. */
export class AccessTokens {
  private readonly key: Uint8Array;

  constructor(private readonly config: Pick<Config, 'secretKey' | 'algorithm' | 'accessTokenExpireMinutes' | 'jwtIssuer' | 'jwtAudience'>) {
    this.key = new TextEncoder().encode(config.secretKey);
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
      .sign(this.key);
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

  verify(token: string): Promise<{ userId: string }> {
    return this.verifyTyp(token, 'access');
  }

  /** Verifies a token made by issueFor(purpose); access tokens and other purposes are refused. */
  verifyFor(purpose: TokenPurpose, token: string): Promise<{ userId: string }> {
    return this.verifyTyp(token, purpose);
  }

  private async verifyTyp(token: string, typ: 'access' | TokenPurpose): Promise<{ userId: string }> {
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: [this.config.algorithm],
        issuer: this.config.jwtIssuer,
        audience: this.config.jwtAudience,
        requiredClaims: ['sub', 'exp'],
      });
      if (payload.typ !== typ || typeof payload.sub !== 'string') throw errors.invalidToken();
      return { userId: payload.sub };
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
