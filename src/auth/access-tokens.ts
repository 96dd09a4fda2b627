import { SignJWT, decodeJwt, errors as joseErrors, jwtVerify } from 'jose';
import type { Config } from '../config.js';
import { errors } from '../http/errors.js';
import { newId } from '../db/ids.js';

export interface IssuedAccessToken {
  token: string;
  expiresIn: number;
}

/** Our own access tokens: short-lived JWTs signed with SECRET_KEY. */
export class AccessTokens {
  private readonly key: Uint8Array;

  constructor(private readonly config: Pick<Config, 'secretKey' | 'algorithm' | 'accessTokenExpireMinutes' | 'jwtIssuer' | 'jwtAudience'>) {
    this.key = new TextEncoder().encode(config.secretKey);
  }

  async issue(userId: string): Promise<IssuedAccessToken> {
    const expiresIn = this.config.accessTokenExpireMinutes * 60;
    const token = await new SignJWT({ typ: 'access' })
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

  async verify(token: string): Promise<{ userId: string }> {
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: [this.config.algorithm],
        issuer: this.config.jwtIssuer,
        audience: this.config.jwtAudience,
        requiredClaims: ['sub', 'exp'],
      });
      if (payload.typ !== 'access' || typeof payload.sub !== 'string') throw errors.invalidToken();
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
