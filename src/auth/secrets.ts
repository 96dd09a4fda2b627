import { createHash, randomBytes } from 'node:crypto';

/** Opaque secrets (refresh tokens, API keys) are stored only as their SHA-256. */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}
