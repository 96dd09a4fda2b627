import { randomBytes } from 'node:crypto';
import type { AccessTokens } from '../auth/access-tokens.js';
import { AppError, errors } from '../http/errors.js';

/** What OpenAI's clients recognise as a client secret (`ek_…`); also how authenticateRealtime tells one apart. */
export const CLIENT_SECRET_PREFIX = 'ek_';

/** OpenAI's default and bounds for `expires_after.seconds`. */
export const CLIENT_SECRET_DEFAULT_SECONDS = 600;
export const CLIENT_SECRET_MIN_SECONDS = 10;
export const CLIENT_SECRET_MAX_SECONDS = 7200;

/** The session options a secret carries travel in every handshake (a header or subprotocol): kept small. */
export const CLIENT_SECRET_SESSION_MAX_BYTES = 4096;

export interface IssuedClientSecret {
  value: string;
  /** Seconds since the epoch. */
  expiresAt: number;
}

export interface VerifiedClientSecret {
  userId: string;
  /** The session options fixed when the secret was made, if any. */
  session: Record<string, unknown> | null;
  expiresAt: number;
}

/**
 * Short-lived credentials for the realtime socket only, for browsers (which cannot send an
 * Authorization header on a WebSocket) and other clients that must not hold the real credential.
 *
 * Stateless: a JWT signed with SECRET_KEY by AccessTokens, under its own `typ`, so any API process
 * accepts it without a shared table or Redis, and no other route does (AuthService.authenticate
 * accepts only `typ: access`). Like the admin cookie it lives no longer than an access token
 * (ACCESS_TOKEN_EXPIRE_MINUTES): a secret must not outlast the log-in that asked for it. It is not
 * revocable before it expires, which its short life bounds.
 */
export class ClientSecrets {
  constructor(private readonly tokens: AccessTokens) {}

  async issue(userId: string, options: { seconds?: number; session?: Record<string, unknown> | null } = {}): Promise<IssuedClientSecret> {
    const seconds = options.seconds ?? CLIENT_SECRET_DEFAULT_SECONDS;
    if (!Number.isInteger(seconds) || seconds < CLIENT_SECRET_MIN_SECONDS || seconds > CLIENT_SECRET_MAX_SECONDS) {
      throw errors.validation(`expires_after.seconds must be an integer from ${CLIENT_SECRET_MIN_SECONDS} to ${CLIENT_SECRET_MAX_SECONDS}`, [
        { field: 'expires_after.seconds', message: 'out of range' },
      ]);
    }
    const session = options.session ?? null;
    const extra: Record<string, string> = {};
    if (session) {
      const json = JSON.stringify(session);
      if (Buffer.byteLength(json) > CLIENT_SECRET_SESSION_MAX_BYTES) {
        throw errors.validation(`session must be at most ${CLIENT_SECRET_SESSION_MAX_BYTES} bytes of JSON`, [
          { field: 'session', message: 'too large' },
        ]);
      }
      extra.ses = json;
    }
    const issuedAt = Math.floor(Date.now() / 1000);
    const { token, expiresIn } = await this.tokens.issueFor('realtime_client_secret', userId, seconds, extra);
    return { value: `${CLIENT_SECRET_PREFIX}${token}`, expiresAt: issuedAt + expiresIn };
  }

  /** 401 invalid_token or token_expired for anything not a live secret of ours. */
  async verify(value: string): Promise<VerifiedClientSecret> {
    if (!isClientSecret(value)) throw errors.invalidToken('Not a client secret');
    const { userId, exp, payload } = await this.tokens.verifyClaimsFor('realtime_client_secret', value.slice(CLIENT_SECRET_PREFIX.length));
    let session: Record<string, unknown> | null = null;
    if (typeof payload.ses === 'string') {
      const parsed: unknown = JSON.parse(payload.ses);
      // Signed by us, so well-formed unless the format changed under a live secret.
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw errors.invalidToken();
      session = parsed as Record<string, unknown>;
    }
    return { userId, session, expiresAt: exp };
  }
}

export function isClientSecret(value: string): boolean {
  return value.startsWith(CLIENT_SECRET_PREFIX);
}

/** An id for the session object of a client_secrets answer, in OpenAI's `sess_…` form. */
export function newSessionId(): string {
  return `sess_${randomBytes(12).toString('base64url')}`;
}

/** The one session type served here; OpenAI's speech-to-speech `realtime` sessions are not. */
export function assertTranscriptionSession(session: Record<string, unknown> | undefined): void {
  if (session && session.type !== 'transcription') {
    throw new AppError('validation_failed', 'Only transcription sessions are served here: session.type must be "transcription"', [
      { field: 'session.type', message: 'must be "transcription"' },
    ]);
  }
}
