import type { FastifyRequest } from 'fastify';
import type { AuthService } from '../auth/service.js';
import { BEARER, withChallenge } from '../http/auth-plugin.js';
import { AppError, errors } from '../http/errors.js';
import { ClientSecrets, isClientSecret } from './client-secrets.js';

/** Who opened a realtime socket. */
export interface RealtimeCaller {
  userId: string;
  /** Session options fixed by a client secret, if one was used. */
  session: Record<string, unknown> | null;
}

export interface RealtimeAuthDeps {
  auth: AuthService;
  secrets: ClientSecrets;
}

/** The deps from the app's AuthService: client secrets are signed with its key, so any process verifies them. */
export function realtimeAuthDeps(auth: AuthService): RealtimeAuthDeps {
  return { auth, secrets: new ClientSecrets(auth.accessTokens) };
}

/** How OpenAI's browser clients pass a credential: as one of the offered WebSocket subprotocols. */
export const INSECURE_KEY_PROTOCOL = 'openai-insecure-api-key.';

/** The subprotocol the server answers with; never the one carrying the credential. */
export const REALTIME_PROTOCOL = 'realtime';

/** The subprotocols a client offered (Sec-WebSocket-Protocol, comma-separated, possibly repeated). */
export function offeredProtocols(request: FastifyRequest): string[] {
  const header: string | string[] | undefined = request.headers['sec-websocket-protocol'];
  const values: string[] = Array.isArray(header) ? header : header === undefined ? [] : [header];
  return values.flatMap((value) => value.split(',')).map((item) => item.trim()).filter((item) => item !== '');
}

/** The credential a realtime handshake carries: the Authorization header first, else the subprotocol. */
function credentialOf(request: FastifyRequest): string | null {
  const authorization = request.headers.authorization;
  if (authorization !== undefined) return BEARER.exec(authorization)?.[1] ?? null;
  const offered = offeredProtocols(request).find((protocol) => protocol.startsWith(INSECURE_KEY_PROTOCOL));
  const value = offered?.slice(INSECURE_KEY_PROTOCOL.length);
  return value ? value : null;
}

/**
 * Resolves a realtime handshake to its user. `Authorization: Bearer` takes an access token, a
 * Supabase token, an API key (through AuthService.authenticate, the path of every other route;
 * realtime needs no API key scope, as transcription routes need none) or a client secret; browsers
 * offer the same in the `openai-insecure-api-key.<value>` subprotocol next to `realtime`. Throws a
 * 401 AppError (unauthorized, invalid_token, token_expired) with a Bearer challenge.
 */
export async function authenticateRealtime(request: FastifyRequest, deps: RealtimeAuthDeps): Promise<RealtimeCaller> {
  const credential = credentialOf(request);
  if (credential === null) {
    throw withChallenge(
      errors.unauthorized(
        'Send a credential: Authorization: Bearer <token, API key or client secret>, or the subprotocol openai-insecure-api-key.<client secret>',
      ),
    );
  }
  try {
    if (isClientSecret(credential)) {
      const secret = await deps.secrets.verify(credential);
      return { userId: secret.userId, session: secret.session };
    }
    const context = await deps.auth.authenticate(credential);
    return { userId: context.userId, session: null };
  } catch (error) {
    if (error instanceof AppError) throw withChallenge(error);
    throw error;
  }
}
