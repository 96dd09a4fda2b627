import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ADMIN_ROLE, currentRole } from '../auth/roles.js';
import { MANAGE_CREDENTIALS } from '../auth/scopes.js';
import type { AppDatabase } from '../db/client.js';
import { requireScope, userIdOf } from '../http/auth-plugin.js';
import { errors } from '../http/errors.js';
import { problemResponses } from '../http/problem.js';
import { IdParams, Nullable, Page, PageQuery } from '../http/schemas.js';
import { ROLES, type AdminService } from './service.js';

const tags = ['admin'];

const RoleName = Type.Union(
  ROLES.map((role) => Type.Literal(role)),
  { description: 'user, or admin (may use /api/v1/admin/* and the queue dashboard)' },
);

const AdminUser = Type.Object({
  id: Type.String({ format: 'uuid' }),
  email: Nullable(Type.String()),
  role: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
  usage: Type.Object({
    llm_input_tokens: Type.Integer({ description: 'LLM prompt tokens spent (chat, summaries)' }),
    llm_output_tokens: Type.Integer({ description: 'LLM completion tokens spent' }),
    audio_minutes: Type.Number({ description: "Minutes of audio in the account's completed transcriptions" }),
  }),
});

const Status = Type.Object({
  engines: Type.Object({
    default: Type.String({ description: 'STT_ENGINE' }),
    whisper: Type.Object({
      model: Type.String({ description: 'WHISPER_MODEL' }),
      models_dir: Type.String({ description: 'MODELS_DIR' }),
      model_present: Type.Boolean({ description: "Whether WHISPER_MODEL's file is there (else the first job downloads it)" }),
      present: Type.Array(
        Type.Object({
          file: Type.String(),
          name: Nullable(Type.String({ description: 'The model name, for files of known models' })),
        }),
        { description: 'The .bin files in MODELS_DIR' },
      ),
    }),
    openai: Type.Object({
      configured: Type.Boolean({ description: 'STT_API_KEY, OPENAI_API_KEY or STT_BASE_URL is set' }),
      model: Type.String({ description: 'STT_MODEL' }),
    }),
    sphinx: Type.Object({
      binary: Type.String({ description: 'POCKETSPHINX_BIN' }),
      available: Type.Boolean({ description: 'Whether that binary is found and executable' }),
    }),
  }),
  llm: Type.Object({
    provider: Nullable(Type.String({ description: 'The default provider; null: chat and summaries answer 503' })),
    model: Type.String(),
    configured: Type.Array(Type.String(), { description: 'Providers with a key or base URL' }),
  }),
  queue: Type.Object({
    mode: Type.Union([Type.Literal('inline'), Type.Literal('bullmq')], {
      description: 'inline: jobs run inside the API (PostgreSQL queue); bullmq: Redis (REDIS_URL)',
    }),
    dashboard: Nullable(Type.String({ description: 'Where the queue dashboard is (BullMQ only); open a session with POST /admin/session first' })),
  }),
});

/**
 * Mounted under /api/v1/admin inside an authenticated scope. Every route is for admins only: the
 * role is read from the database on each request (as src/admin/guard.ts does), so a demotion
 * takes effect at once.
 */
export const adminRoutes: FastifyPluginAsyncTypebox<{ admin: AdminService; db: AppDatabase }> = async (app, { admin, db }) => {
  // preValidation: after the scope's bearer check (preParsing), before a body is judged, so a
  // non-admin learns nothing about what these routes accept.
  app.addHook('preValidation', async (request) => {
    if ((await currentRole(db, userIdOf(request))) !== ADMIN_ROLE) throw errors.forbidden('Only admins may use this');
  });

  app.get(
    '/users',
    {
      schema: {
        tags,
        summary: 'Accounts, their roles and usage (admins only)',
        description: 'Usage is summed over all time, or from `since` on. Ordered by id.',
        querystring: Type.Object({
          ...PageQuery.properties,
          since: Type.Optional(Type.String({ format: 'date-time', description: 'Count usage from this time on' })),
        }),
        response: { 200: Page(AdminUser), ...problemResponses(401, 403, 422) },
      },
    },
    async (request) => admin.listUsers(request.query),
  );

  app.patch(
    '/users/:id',
    {
      schema: {
        tags,
        summary: "Change an account's role (admins only)",
        description:
          'An admin cannot demote themself (409 `admin_self_demotion`). An account listed in ADMIN_EMAILS ' +
          'becomes admin again at its next log-in. An API key needs the `keys:manage` scope for this.',
        params: IdParams,
        body: Type.Object({ role: RoleName }),
        response: { 200: AdminUser, ...problemResponses(401, 403, 404, 409, 422) },
      },
      // Granting admin is a change of credentials: a key without keys:manage may look, not promote.
      preHandler: requireScope(MANAGE_CREDENTIALS),
    },
    async (request) => admin.setRole(userIdOf(request), request.params.id, request.body.role),
  );

  app.get(
    '/status',
    {
      schema: {
        tags,
        summary: 'Engines, models, LLM and queue as this server is configured (admins only)',
        response: { 200: Status, ...problemResponses(401, 403) },
      },
    },
    async () => admin.status(),
  );
};
