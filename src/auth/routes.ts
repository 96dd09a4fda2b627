import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { requireAuth, userIdOf } from '../http/auth-plugin.js';
import { errors } from '../http/errors.js';
import { problemResponses } from '../http/problem.js';
import { IdParams } from '../http/schemas.js';
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
  // Credential endpoints get a tighter limit than the rest: they are what password guessers hit.
  const rateLimit = { max: rateLimitMax, timeWindow: '1 minute' };

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
        description: 'JSON `{email, password}`, or the OAuth2 password form `username=…&password=…`.',
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
        description: 'Each refresh token works once. Presenting a used one revokes every token of that log-in.',
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
        summary: 'Revoke the refresh token and every token of its log-in',
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

    scope.get(
      '/me',
      { schema: { tags, summary: 'The current user', response: { 200: User, ...problemResponses(401) } } },
      async (request) => auth.me(userIdOf(request)),
    );

    scope.post(
      '/api-keys',
      {
        schema: {
          tags,
          summary: 'Create an API key (shown once)',
          body: CreateApiKeyBody,
          response: { 201: CreatedApiKey, ...problemResponses(401, 422) },
        },
      },
      async (request, reply) =>
        reply
          .code(201)
          .send(await auth.createApiKey(userIdOf(request), request.body.name, request.body.expires_in_days)),
    );

    scope.get(
      '/api-keys',
      {
        schema: {
          tags,
          summary: 'List your API keys',
          response: { 200: Type.Object({ items: Type.Array(ApiKey) }), ...problemResponses(401) },
        },
      },
      async (request) => ({ items: await auth.listApiKeys(userIdOf(request)) }),
    );

    scope.delete(
      '/api-keys/:id',
      {
        schema: {
          tags,
          summary: 'Revoke an API key',
          params: IdParams,
          response: { 204: Type.Null(), ...problemResponses(401, 404, 422) },
        },
      },
      async (request, reply) => {
        await auth.revokeApiKey(userIdOf(request), request.params.id);
        return reply.code(204).send(null);
      },
    );
  });
};
