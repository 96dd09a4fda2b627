import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe } from 'node:test';
import { SignJWT, decodeJwt, type JWTPayload } from 'jose';
import type { LightMyRequestResponse as Response } from 'fastify';
import { DB_KINDS, type DbKind } from '../helpers/databases.js';
import { TEST_SECRET } from '../helpers/config.js';

/* Shared by the auth suites: JWT builders and assertions on problem+json replies. */

export const ISSUER = 'transcribo';
export const AUDIENCE = 'transcribo';

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

export function secretKey(secret: string): Uint8Array {
  return new TextEncoder().encode(secret);
}

export interface SignOptions {
  secret?: string;
  alg?: string;
  issuer?: string | null;
  audience?: string | null;
  /** Absolute exp in seconds since the epoch; null leaves it out. */
  exp?: number | null;
  sub?: string | null;
  /** The log-in (refresh-token family) the token belongs to; a live one is needed to be accepted. */
  sid?: string;
  claims?: JWTPayload;
}

/** An HMAC-signed JWT shaped like our access tokens unless told otherwise. */
export async function signHmac(options: SignOptions = {}): Promise<string> {
  const now = nowSeconds();
  const jwt = new SignJWT({ typ: 'access', ...(options.sid ? { sid: options.sid } : {}), ...options.claims })
    .setProtectedHeader({ alg: options.alg ?? 'HS256', typ: 'JWT' })
    .setIssuedAt(now);
  const sub = options.sub === undefined ? '00000000-0000-7000-8000-000000000000' : options.sub;
  if (sub !== null) jwt.setSubject(sub);
  const issuer = options.issuer === undefined ? ISSUER : options.issuer;
  if (issuer !== null) jwt.setIssuer(issuer);
  const audience = options.audience === undefined ? AUDIENCE : options.audience;
  if (audience !== null) jwt.setAudience(audience);
  const exp = options.exp === undefined ? now + 600 : options.exp;
  if (exp !== null) jwt.setExpirationTime(exp);
  return jwt.sign(secretKey(options.secret ?? TEST_SECRET));
}

function base64urlJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** An unsigned `alg: none` token, built by hand because jose refuses to make one. */
export function unsignedToken(payload: JWTPayload): string {
  return `${base64urlJson({ alg: 'none', typ: 'JWT' })}.${base64urlJson(payload)}.`;
}

/** Flips one character of the signature so the token no longer verifies. */
export function tamperSignature(token: string): string {
  const [header, payload, signature] = token.split('.');
  assert.ok(header && payload && signature, `not a JWS: ${token}`);
  const first = signature[0] === 'A' ? 'B' : 'A';
  return `${header}.${payload}.${first}${signature.slice(1)}`;
}

export function claimsOf(token: string): JWTPayload {
  return decodeJwt(token);
}

/** The log-in an issued access token belongs to (its `sid`). */
export function sessionOf(accessToken: string): string {
  const { sid } = decodeJwt(accessToken);
  assert.equal(typeof sid, 'string', 'an access token carries its session id');
  return sid as string;
}

/** Asserts an RFC 9457 problem reply with our stable code. */
export function assertProblem(res: Response, status: number, code: string): Record<string, unknown> {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/, res.body);
  const body = res.json<Record<string, unknown>>();
  assert.equal(body.status, status, res.body);
  assert.equal(body.code, code, res.body);
  assert.equal(body.type, `https://transcribo.dev/errors/${code}`);
  assert.equal(typeof body.detail, 'string');
  assert.equal(body.request_id, res.headers['x-request-id']);
  return body;
}

/** A 401 from a route that needs a bearer credential: problem+json plus the Bearer challenge. */
export function assertBearerRejected(res: Response, code: string): Record<string, unknown> {
  const body = assertProblem(res, 401, code);
  assert.match(String(res.headers['www-authenticate']), /^Bearer\b/, 'missing WWW-Authenticate: Bearer');
  return body;
}

/**
 * Like describeEachDatabase, for suites that start their own apps (per test, or with settings
 * only known once the suite runs): one describe per database kind, skipped the same way.
 */
export function describeEachKind(name: string, body: (kind: DbKind) => void): void {
  for (const kind of DB_KINDS) {
    describe(`${name} [${kind}]`, () => body(kind));
  }
}

/**
 * Polls `check` until it returns true, failing after `timeoutMs`: for conditions another process
 * (or a clock) makes true, never a fixed sleep.
 */
export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
