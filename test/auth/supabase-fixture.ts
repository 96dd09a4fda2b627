import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { eq } from 'drizzle-orm';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import type { App } from '../../src/app.js';
import { users } from '../../src/db/schema.js';
import { asSystem } from '../../src/db/scope.js';
import type { Database } from '../../src/db/client.js';
import { bearer, uniqueEmail } from '../helpers/factory.js';
import { nowSeconds } from './support.js';

/*
 * Shared by the supabase-*.test.ts suites: Supabase-shaped tokens, the /me call that checks them,
 * the local accounts they map to, and the small HTTP servers that stand in for a JWKS endpoint.
 */

const ME = '/api/v1/auth/me';

export interface SupabaseClaims {
  sub?: string | null;
  email?: string | null;
  aud?: string | null;
  iss?: string | null;
  exp?: number;
}

/** A Supabase-shaped access token (role authenticated, aud authenticated). */
export async function supabaseToken(
  key: CryptoKey | Uint8Array,
  header: { alg: string; kid?: string },
  claims: SupabaseClaims = {},
): Promise<string> {
  const now = nowSeconds();
  const payload: Record<string, unknown> = { role: 'authenticated' };
  const email = claims.email === undefined ? uniqueEmail('supa') : claims.email;
  if (email !== null) payload.email = email;
  const jwt = new SignJWT(payload)
    .setProtectedHeader({ ...header, typ: 'JWT' })
    .setIssuedAt(now)
    .setExpirationTime(claims.exp ?? now + 3600);
  const sub = claims.sub === undefined ? randomUUID() : claims.sub;
  if (sub !== null) jwt.setSubject(sub);
  const aud = claims.aud === undefined ? 'authenticated' : claims.aud;
  if (aud !== null) jwt.setAudience(aud);
  if (claims.iss) jwt.setIssuer(claims.iss);
  return jwt.sign(key);
}

/** GET /me with `token` as the bearer credential: where every accepted or refused token shows. */
export function me(app: App, token: string) {
  return app.inject({ method: 'GET', url: ME, headers: bearer(token) });
}

export async function localUserForSubject(database: Database, subject: string) {
  return asSystem(database.db, 'test reads Supabase-linked accounts', (tx) =>
    tx.select().from(users).where(eq(users.supabaseId, subject)),
  );
}

export interface KeyPair {
  privateKey: CryptoKey;
  jwk: JWK;
}

export async function keyPair(alg: 'RS256' | 'ES256', kid: string): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg);
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { privateKey, jwk };
}

/** Listens on a free port of 127.0.0.1; resolves to the server's base URL. */
export function listen(server: Server): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
  });
}

/** Closes the server, dropping kept-alive connections so that the close does not wait on them. */
export function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}
