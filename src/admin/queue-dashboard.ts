import { posix } from 'node:path';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Queue } from 'bullmq';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { AuthService } from '../auth/service.js';
import type { AppDatabase } from '../db/client.js';
import { sendProblem } from '../http/error-handler.js';
import { problemResponses } from '../http/problem.js';
import { ADMIN_SESSION_COOKIE, requireAdmin, type AdminGuardOptions } from './guard.js';

export interface QueueDashboardOptions {
  /** The BullMQ queues to show; bull-board reads their job counts and jobs through their own connections. */
  queues: Queue[];
  auth: AuthService;
  db: AppDatabase;
  /** Where the dashboard lives (default `/admin/queues`); its session routes sit next to it (`/admin/session`). */
  basePath?: string;
  /** Longest life of a dashboard session, in seconds (default 3600); never longer than an access token's. */
  sessionMaxSeconds?: number;
  /** The board's title (default `Transcribo jobs`). */
  title?: string;
  /**
   * Hide bull-board's buttons that change queues (retry, promote, clean, empty, pause, add job).
   * Off by default; worth turning on where the job rows in the database are the truth and Redis
   * only carries them, since those buttons act on Redis alone.
   */
  readOnly?: boolean;
}

const SESSION_MAX_SECONDS = 3600;
const tags = ['admin'];

/**
 * Mounts bull-board for `queues` at `basePath`, for admins only, plus the routes that give a
 * browser its admin session (a cookie; the dashboard's page cannot send an Authorization header
 * with its own requests). Everything lives in one encapsulated scope: its hooks touch nothing else.
 *
 * Every dashboard route (the page, its static assets, its JSON API, and anything else under
 * `basePath`) answers 401 without credentials and 403 `forbidden` to non-admins. The default
 * Content-Security-Policy of @fastify/helmet fits the page as it is: it has no inline script (its
 * one inline <script> is a JSON data block, which CSP does not govern), its scripts, worker and API
 * calls are same-origin, and its inline styles are allowed by helmet's `style-src 'self' https:
 * 'unsafe-inline'`. Its Google Fonts stylesheet is taken out of the page (withoutRemoteStylesheets):
 * the dashboard, like the console, makes no third-party requests.
 */
export async function registerQueueDashboard(app: FastifyInstance, options: QueueDashboardOptions): Promise<void> {
  const basePath = normalizePath(options.basePath ?? '/admin/queues');
  if (basePath === '/') throw new Error('the queue dashboard needs its own path, not /');
  const root = posix.dirname(basePath);
  const sessionPath = `${root === '/' ? '' : root}/session`;
  const maxSeconds = options.sessionMaxSeconds ?? SESSION_MAX_SECONDS;
  const guard: AdminGuardOptions = { auth: options.auth, db: options.db, allowCookie: false, sessionPath };

  await app.register(async (scope) => {
    const typed = scope.withTypeProvider<TypeBoxTypeProvider>();

    typed.post(
      sessionPath,
      {
        onRequest: requireAdmin(guard),
        schema: {
          tags,
          summary: 'Open an admin session for the queue dashboard in this browser',
          description:
            `Admins only, with a bearer credential. Sets the HttpOnly, SameSite=Strict cookie ` +
            `\`${ADMIN_SESSION_COOKIE}\` (path \`${root}\`) that lets the browser open ${basePath}/; it expires ` +
            `with the access-token lifetime, at most ${maxSeconds} s, and works only while the account is an admin.`,
          security: [{ bearerAuth: [] }],
          response: {
            200: Type.Object({
              expires_in: Type.Integer({ description: 'Seconds until the session cookie expires' }),
              dashboard: Type.String({ description: 'Where the dashboard is' }),
            }),
            ...problemResponses(401, 403),
          },
        },
      },
      async (request, reply) => {
        const session = await options.auth.accessTokens.issueFor('admin_session', request.auth!.userId, maxSeconds);
        void reply
          .header('set-cookie', sessionCookie(request, root, session.token, session.expiresIn))
          .header('cache-control', 'no-store');
        return { expires_in: session.expiresIn, dashboard: `${basePath}/` };
      },
    );

    typed.delete(
      sessionPath,
      {
        schema: {
          tags,
          summary: 'End the queue dashboard session in this browser',
          description: 'Clears the session cookie. Needs no credentials: ending a session must always work.',
          response: { 204: Type.Null() },
        },
      },
      async (request, reply) =>
        reply.code(204).header('set-cookie', sessionCookie(request, root, '', 0)).header('cache-control', 'no-store').send(null),
    );

    await scope.register(
      async (board) => {
        // bull-board hides its own routes, and @fastify/static its; this makes sure of it.
        board.addHook('onRoute', (route) => {
          route.schema = { ...route.schema, hide: true };
        });
        board.addHook('onRequest', requireAdmin({ ...guard, allowCookie: true }));
        // Unknown paths under the dashboard are admins' business too: 401/403 before any 404.
        board.setNotFoundHandler((request, reply) =>
          sendProblem(request, reply, 404, 'route_not_found', `No route ${request.method} ${request.url.split('?')[0]}`),
        );

        // bull-board's page asks Google for its fonts; nothing here may reach a third party, so the
        // page goes out without that stylesheet and its text falls back to local fonts.
        board.addHook('onSend', async (_request, reply, payload) => {
          const type = reply.getHeader('content-type');
          if (typeof payload !== 'string' || typeof type !== 'string' || !type.startsWith('text/html')) return payload;
          return withoutRemoteStylesheets(payload);
        });

        const serverAdapter = new FastifyAdapter();
        serverAdapter.setBasePath(basePath);
        createBullBoard({
          queues: options.queues.map((queue) => new BullMQAdapter(queue, { readOnlyMode: options.readOnly ?? false })),
          serverAdapter,
          options: { uiConfig: { boardTitle: options.title ?? 'Transcribo jobs' } },
        });
        await board.register(serverAdapter.registerPlugin());
      },
      { prefix: basePath },
    );
  });
}

/** The page without `<link>`s to other origins (bull-board's Google Fonts stylesheet). */
export function withoutRemoteStylesheets(html: string): string {
  return html.replace(/<link\b[^>]*\bhref="(?:https?:)?\/\/[^"]*"[^>]*>\s*/gi, '');
}

function normalizePath(path: string): string {
  const trimmed = `/${path.trim()}`.replace(/\/+/g, '/').replace(/\/$/, '');
  return trimmed === '' ? '/' : trimmed;
}

function sessionCookie(request: FastifyRequest, path: string, value: string, maxAge: number): string {
  const parts = [`${ADMIN_SESSION_COOKIE}=${value}`, `Path=${path}`, `Max-Age=${maxAge}`];
  if (maxAge === 0) parts.push('Expires=Thu, 01 Jan 1970 00:00:00 GMT');
  parts.push('HttpOnly', 'SameSite=Strict');
  // request.protocol honours X-Forwarded-Proto only with TRUST_PROXY, as it should.
  if (request.protocol === 'https') parts.push('Secure');
  return parts.join('; ');
}
