import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError, errors } from './errors.js';
import type { AuthContext, AuthService } from '../auth/service.js';

declare module 'fastify' {
  interface FastifyRequest {
    auth: AuthContext | null;
  }
}

export const BEARER = /^Bearer\s+(\S+)\s*$/i;
const CHALLENGE = { 'www-authenticate': 'Bearer' };

/**
 * Seals a scope: every route registered inside it requires a bearer credential, and its OpenAPI
 * entry says so. Routes cannot opt out by forgetting a hook.
 */
export function requireAuth(scope: FastifyInstance, auth: AuthService): void {
  scope.addHook('onRoute', (route) => {
    route.schema = { ...route.schema, security: [{ bearerAuth: [] }] };
  });
  scope.addHook('onRequest', async (request) => {
    const match = BEARER.exec(request.headers.authorization ?? '');
    if (!match) throw withChallenge(errors.unauthorized('Send a bearer token: Authorization: Bearer <token>'));
    try {
      request.auth = await auth.authenticate(match[1]!);
    } catch (error) {
      throw error instanceof AppError ? withChallenge(error) : error;
    }
  });
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
