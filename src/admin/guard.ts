import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuthContext, AuthService } from '../auth/service.js';
import { ADMIN_ROLE, currentRole } from '../auth/roles.js';
import type { AppDatabase } from '../db/client.js';
import { BEARER, withChallenge } from '../http/auth-plugin.js';
import { sendProblem } from '../http/error-handler.js';
import { AppError, errors } from '../http/errors.js';

/** The admin dashboard's browser session: an HttpOnly cookie, sent only under its path. */
export const ADMIN_SESSION_COOKIE = 'transcribo_admin';

export interface AdminGuardOptions {
  auth: AuthService;
  db: AppDatabase;
  /**
   * Also accept the ADMIN_SESSION_COOKIE. A browser cannot add an Authorization header to the
   * requests a page makes for its own scripts and styles, so the dashboard needs a cookie; the
   * route that hands the cookie out must not accept one, or a session could extend itself forever.
   */
  allowCookie: boolean;
  /** Where the cookie is handed out, for the 401 message (default `/admin/session`). */
  sessionPath?: string;
}

/** One cookie's value from a Cookie header (RFC 6265: `a=b; c=d`); the first of that name wins. */
export function readCookie(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    try {
      return decodeURIComponent(value);
    } catch {
      return value;
    }
  }
  return null;
}

/**
 * Who is calling, if it is an admin: an `Authorization: Bearer` credential (JWT, API key or
 * Supabase token), else (when allowed) the dashboard's session cookie. The role is read from the
 * database on every call, so a demotion takes effect at once. Throws 401 without a valid
 * credential and 403 `forbidden` for anyone who is not an admin.
 */
export async function authenticateAdmin(request: FastifyRequest, options: AdminGuardOptions): Promise<AuthContext> {
  const context = await authenticateAny(request, options);
  const role = await currentRole(options.db, context.userId);
  if (role === null) throw withChallenge(errors.invalidToken('The account behind this credential no longer exists'));
  if (role !== ADMIN_ROLE) throw errors.forbidden('Only admins may use this');
  return context;
}

async function authenticateAny(request: FastifyRequest, options: AdminGuardOptions): Promise<AuthContext> {
  const header = request.headers.authorization;
  try {
    if (header !== undefined && header !== '') {
      const match = BEARER.exec(header);
      if (!match) throw errors.unauthorized('Send a bearer token: Authorization: Bearer <token>');
      return await options.auth.authenticate(match[1]!);
    }
    const cookie = options.allowCookie ? readCookie(request.headers.cookie, ADMIN_SESSION_COOKIE) : null;
    if (cookie) {
      const { userId } = await options.auth.accessTokens.verifyFor('admin_session', cookie);
      return { userId, method: 'admin_session' };
    }
    throw errors.unauthorized(
      options.allowCookie
        ? `Send a bearer token, or open an admin session first (POST ${options.sessionPath ?? '/admin/session'})`
        : 'Send a bearer token: Authorization: Bearer <token>',
    );
  } catch (error) {
    throw error instanceof AppError ? withChallenge(error) : error;
  }
}

/**
 * An onRequest hook that lets only admins through (see authenticateAdmin). It answers with the
 * problem+json reply itself instead of throwing: the scope it guards may set its own error
 * handler (bull-board's does), which would otherwise reshape our 401/403 into its own body.
 */
export function requireAdmin(options: AdminGuardOptions) {
  return async function adminOnly(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    try {
      request.auth = await authenticateAdmin(request, options);
      return undefined;
    } catch (error) {
      if (error instanceof AppError) {
        if (error.headers) void reply.headers(error.headers);
        return sendProblem(request, reply, error.status, error.code, error.message, error.errors);
      }
      request.log.error({ err: error }, 'admin check failed');
      return sendProblem(request, reply, 500, 'internal_error', 'An unexpected error occurred');
    }
  };
}
