import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { Config } from '../config.js';
import { tokenError } from './access-tokens.js';
import { errors } from '../http/errors.js';

export interface SupabaseIdentity {
  subject: string;
  email: string | null;
}

/**
 * Verifies access tokens issued by Supabase Auth: with the project's JWT secret (HS256) when
 * SUPABASE_JWT_SECRET is set, else against the project's JWKS under SUPABASE_URL.
 */
export class SupabaseTokens {
  private readonly secret: Uint8Array | null;
  private readonly jwks: JWTVerifyGetKey | null;
  private readonly issuer: string | undefined;

  private constructor(private readonly supabase: Config['supabase']) {
    this.secret = supabase.jwtSecret ? new TextEncoder().encode(supabase.jwtSecret) : null;
    const base = supabase.url?.replace(/\/+$/, '');
    this.issuer = base ? `${base}/auth/v1` : undefined;
    this.jwks = !this.secret && base ? unavailableWhenUnreachable(`${base}/auth/v1/.well-known/jwks.json`) : null;
  }

  static fromConfig(supabase: Config['supabase']): SupabaseTokens | null {
    if (!supabase.jwtSecret && !supabase.url) return null;
    return new SupabaseTokens(supabase);
  }

  async verify(token: string): Promise<SupabaseIdentity> {
    try {
      const options = {
        audience: this.supabase.jwtAudience,
        issuer: this.issuer,
        requiredClaims: ['sub', 'exp'],
      };
      const { payload } = this.secret
        ? await jwtVerify(token, this.secret, { ...options, algorithms: ['HS256'] })
        : await jwtVerify(token, this.jwks as JWTVerifyGetKey, {
            ...options,
            algorithms: ['RS256', 'ES256'],
          });
      if (typeof payload.sub !== 'string' || payload.sub === '') throw errors.invalidToken();
      return { subject: payload.sub, email: typeof payload.email === 'string' ? payload.email : null };
    } catch (error) {
      throw tokenError(error);
    }
  }
}

/**
 * Supabase being unreachable says nothing about the token: answer 503 so clients retry instead of
 * discarding a valid session. A reachable JWKS without the token's key is still a bad token.
 */
function unavailableWhenUnreachable(url: string): JWTVerifyGetKey {
  const remote = createRemoteJWKSet(new URL(url), { timeoutDuration: 5_000 });
  return async (header, token) => {
    try {
      return await remote(header, token);
    } catch (error) {
      if (error instanceof joseErrors.JWKSNoMatchingKey || error instanceof joseErrors.JWKSMultipleMatchingKeys) {
        throw error;
      }
      throw errors.unavailable('Supabase signing keys cannot be fetched right now; retry shortly', 30);
    }
  };
}
