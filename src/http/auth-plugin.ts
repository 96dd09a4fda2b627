import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError, errors } from './errors.js';
import type { AuthContext, AuthService } from '../auth/service.js';
import { hasScope, type ApiKeyScope } from '../auth/scopes.js';

declare module 'fastify' {
  interface FastifyRequest {
    auth: AuthContext | null;
  }
}

export const BEARER = /^Bearer\s+(\S+)\s*$/i;
const CHALLENGE = { 'www-authenticate': 'Bearer' };

/** Why a request of a sealed scope has no credential, kept from onRequest until it is answered. */
const refusals = new WeakMap<FastifyRequest, AppError>();

/**
 * Seals a scope: every route registered inside it requires a bearer credential, and its OpenAPI
 * entry says so. Routes cannot opt out by forgetting a hook.
 *
 * The credential is checked in onRequest but a refusal is thrown only in preParsing, after the
 * rate limiter (a route-level onRequest hook, src/http/rate-limit.ts) has counted the request:
 * with `request.auth` set by then, a verified caller is counted as its user, and a flood of bad
 * credentials from one address is still counted, and stopped, as that address.
 */
export function requireAuth(scope: FastifyInstance, auth: AuthService): void {
  scope.addHook('onRoute', (route) => {
    route.schema = { ...route.schema, security: [{ bearerAuth: [] }] };
  });
  scope.addHook('onRequest', async (request) => {
    const match = BEARER.exec(request.headers.authorization ?? '');
    if (!match) {
      refusals.set(request, withChallenge(errors.unauthorized('Send a bearer token: Authorization: Bearer <token>')));
      return;
    }
    try {
      request.auth = await auth.authenticate(match[1]!);
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      refusals.set(request, withChallenge(error));
    }
  });
  // Before the body is read: a refused request costs no upload.
  scope.addHook('preParsing', async (request) => {
    const refusal = refusals.get(request);
    if (refusal) throw refusal;
    if (!request.auth) throw withChallenge(errors.unauthorized());
  });
}

/**
 * A hook for routes that need `scope` from an API key (interactive log-ins have every scope):
 * 403 insufficient_scope otherwise. Use inside a requireAuth scope, as preHandler.
 */
export function requireScope(scope: ApiKeyScope) {
  return async (request: FastifyRequest): Promise<void> => {
    if (!request.auth) throw withChallenge(errors.unauthorized());
    if (!hasScope(request.auth, scope)) {
      throw new AppError('insufficient_scope', `An API key needs the "${scope}" scope for this; log in, or create a key with it`);
    }
  };
}

/** A 401 gets the `WWW-Authenticate: Bearer` challenge; other errors pass unchanged. */
export function withChallenge(error: AppError): AppError {
  if (error.status !== 401) return error;
  return new AppError(error.code, error.message, error.errors, { ...error.headers, ...CHALLENGE });
}

/** The authenticated user's id; only valid inside a requireAuth scope. */
export function userIdOf(request: FastifyRequest): string {
  if (!request.auth) throw errors.unauthorized();
  return request.auth.userId;
}
