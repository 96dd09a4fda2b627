import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/*
 * Standard Webhooks (https://www.standardwebhooks.com): the signed content is
 * `${webhook-id}.${webhook-timestamp}.${body}`, HMAC-SHA256 keyed with the base64-decoded secret
 * (after its `whsec_` prefix), sent as `v1,<base64 signature>`; several may be space-separated.
 */

export const SECRET_PREFIX = 'whsec_';

/** A fresh signing secret: 32 random bytes, base64, with the whsec_ prefix. */
export function newSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64');
}

function secretKey(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  const key = Buffer.from(encoded, 'base64');
  if (key.length === 0) throw new Error('The webhook secret is empty');
  return key;
}

/** The webhook-signature header value for one message. */
export function sign(secret: string, msgId: string, timestampSeconds: number, body: string): string {
  const digest = createHmac('sha256', secretKey(secret))
    .update(`${msgId}.${timestampSeconds}.${body}`)
    .digest('base64');
  return `v1,${digest}`;
}

export interface VerifyOptions {
  /** Seconds a timestamp may be off from now (default 300, as the spec recommends). */
  toleranceSeconds?: number;
  /** Current time in seconds; for tests. */
  nowSeconds?: number;
}

/**
 * True when one of the header's space-separated `v1,…` signatures matches and the timestamp is
 * within tolerance. For receivers and tests.
 */
export function verify(
  secret: string,
  msgId: string,
  timestamp: string | number,
  body: string,
  signatureHeader: string,
  options: VerifyOptions = {},
): boolean {
  const ts = typeof timestamp === 'number' ? timestamp : Number(timestamp);
  if (!Number.isInteger(ts)) return false;
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - ts) > (options.toleranceSeconds ?? 300)) return false;
  const expected = Buffer.from(sign(secret, msgId, ts, body));
  return signatureHeader
    .split(' ')
    .filter((candidate) => candidate.startsWith('v1,'))
    .some((candidate) => {
      const given = Buffer.from(candidate);
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
}
