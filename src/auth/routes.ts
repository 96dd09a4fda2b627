import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { requireAuth, requireScope, userIdOf } from '../http/auth-plugin.js';
import { AppError, errors } from '../http/errors.js';
import { problemResponses } from '../http/problem.js';
import { addressKey } from '../http/rate-limit.js';
import { IdParams } from '../http/schemas.js';
import { hasScope, MANAGE_CREDENTIALS } from './scopes.js';
import type { AuthService } from './service.js';
import {
  ApiKey,
  CreateApiKeyBody,
  CreatedApiKey,
  Credentials,
  LoginBody,
  RefreshBody,
  TokenPair,
  User,
} from './schemas.js';

export interface AuthRoutesOptions {
  auth: AuthService;
  rateLimitMax: number;
}

const tags = ['auth'];

export const authRoutes: FastifyPluginAsyncTypebox<AuthRoutesOptions> = async (app, { auth, rateLimitMax }) => {
  // Credential endpoints get a tighter limit than the rest, per address: they are what password
  // guessers hit (log-in is limited per account as well, in AuthService.login).
  const rateLimit = { max: rateLimitMax, timeWindow: '1 minute', keyGenerator: addressKey };

  app.post(
    '/register',
    {
      config: { rateLimit },
      schema: {
        tags,
        summary: 'Create an account',
        body: Credentials,
        response: { 201: TokenPair, ...problemResponses(409, 422, 429) },
      },
    },
    async (request, reply) => reply.code(201).send(await auth.register(request.body.email, request.body.password)),
  );

  app.post(
    '/login',
    {
      config: { rateLimit },
      schema: {
        tags,
        summary: 'Log in with e-mail and password',
        description:
          'JSON `{email, password}`, or the OAuth2 password form `username=…&password=…`. After a few failed ' +
          'attempts on one account, each further attempt must wait (429 `rate_limited` with Retry-After).',
        consumes: ['application/json', 'application/x-www-form-urlencoded'],
        body: LoginBody,
        response: { 200: TokenPair, ...problemResponses(401, 422, 429) },
      },
    },
    async (request) => {
      const email = request.body.email ?? request.body.username;
      if (!email) throw errors.validation('email is required', [{ field: 'body.email', message: 'is required' }]);
      return auth.login(email, request.body.password);
    },
  );

  app.post(
    '/refresh',
    {
      config: { rateLimit },
      schema: {
        tags,
        summary: 'Trade a refresh token for a new pair',
        description:
          'Each refresh token works once. Presented again within a few seconds (two tabs refreshing at once), ' +
          'it answers with the same new pair; later, it revokes every token of that log-in, access tokens included.',
        body: RefreshBody,
        response: { 200: TokenPair, ...problemResponses(401, 422, 429) },
      },
    },
    async (request) => auth.refresh(request.body.refresh_token),
  );

  app.post(
    '/logout',
    {
      schema: {
        tags,
        summary: 'Revoke the refresh token and every token of its log-in, access tokens included',
        body: RefreshBody,
        response: { 204: Type.Null(), ...problemResponses(422) },
      },
    },
    async (request, reply) => {
      await auth.logout(request.body.refresh_token);
      return reply.code(204).send(null);
    },
  );

  await app.register(async (sealed) => {
    requireAuth(sealed, auth);
    const scope = sealed.withTypeProvider<TypeBoxTypeProvider>();
    // Credentials are managed by interactive log-ins, or by an API key created with the scope for it.
    const manageKeys = requireScope(MANAGE_CREDENTIALS);

    scope.get(
      '/me',
      { schema: { tags, summary: 'The current user', response: { 200: User, ...problemResponses(401) } } },
      async (request) => auth.me(userIdOf(request)),
    );

    scope.post(
      '/api-keys',
      {
        preHandler: manageKeys,
        schema: {
          tags,
          summary: 'Create an API key (shown once)',
          description: 'An API key may call this only if it has the `keys:manage` scope.',
          body: CreateApiKeyBody,
          response: { 201: CreatedApiKey, ...problemResponses(401, 403, 422) },
        },
      },
      async (request, reply) => {
        const { name, expires_in_days: expiresInDays, scopes } = request.body;
        // A key hands on only what it holds itself.
        const withheld = (scopes ?? []).find((s) => !hasScope(request.auth!, s));
        if (withheld) throw new AppError('insufficient_scope', `This API key cannot give the "${withheld}" scope it lacks`);
        return reply.code(201).send(await auth.apiKeys.create(userIdOf(request), { name, expiresInDays, scopes }));
      },
    );

    scope.get(
      '/api-keys',
      {
        preHandler: manageKeys,
        schema: {
          tags,
          summary: 'List your API keys',
          description: 'An API key may call this only if it has the `keys:manage` scope.',
          response: { 200: Type.Object({ items: Type.Array(ApiKey) }), ...problemResponses(401, 403) },
        },
      },
      async (request) => ({ items: await auth.apiKeys.list(userIdOf(request)) }),
    );

    scope.delete(
      '/api-keys/:id',
      {
        preHandler: manageKeys,
        schema: {
          tags,
          summary: 'Revoke an API key',
          description: 'An API key may call this only if it has the `keys:manage` scope.',
          params: IdParams,
          response: { 204: Type.Null(), ...problemResponses(401, 403, 404, 422) },
        },
      },
      async (request, reply) => {
        await auth.apiKeys.revoke(userIdOf(request), request.params.id);
        return reply.code(204).send(null);
      },
    );
  });
};
