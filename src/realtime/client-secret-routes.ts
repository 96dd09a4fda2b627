import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type Static } from 'typebox';
import type { AuthService } from '../auth/service.js';
import { requireAuth, userIdOf } from '../http/auth-plugin.js';
import { useOpenAIErrors } from '../openai-compat/errors.js';
import {
  assertTranscriptionSession,
  ClientSecrets,
  CLIENT_SECRET_DEFAULT_SECONDS,
  CLIENT_SECRET_MAX_SECONDS,
  CLIENT_SECRET_MIN_SECONDS,
  newSessionId,
} from './client-secrets.js';

export interface ClientSecretRouteOptions {
  auth: AuthService;
}

const OpenAIError = Type.Object({
  error: Type.Object({
    message: Type.String(),
    type: Type.String(),
    param: Type.Union([Type.String(), Type.Null()]),
    code: Type.Union([Type.String(), Type.Null()]),
  }),
});

/** OpenAI's transcription session, loosely: its content is checked where a socket applies it. */
const Session = Type.Object(
  {
    type: Type.String({ description: 'must be "transcription"' }),
    audio: Type.Optional(
      Type.Object(
        {
          input: Type.Optional(
            Type.Object(
              {
                format: Type.Optional(Type.Object({}, { additionalProperties: true })),
                transcription: Type.Optional(
                  Type.Object(
                    { model: Type.Optional(Type.String()), language: Type.Optional(Type.String()), prompt: Type.Optional(Type.String()) },
                    { additionalProperties: true },
                  ),
                ),
                turn_detection: Type.Optional(Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()])),
                noise_reduction: Type.Optional(Type.Union([Type.Object({}, { additionalProperties: true }), Type.Null()])),
              },
              { additionalProperties: true },
            ),
          ),
        },
        { additionalProperties: true },
      ),
    ),
    include: Type.Optional(Type.Array(Type.String())),
  },
  { additionalProperties: true },
);

const BodyObject = Type.Object({
    expires_after: Type.Optional(
      Type.Object({
        anchor: Type.Optional(Type.Literal('created_at')),
        seconds: Type.Optional(Type.Integer({ minimum: CLIENT_SECRET_MIN_SECONDS, maximum: CLIENT_SECRET_MAX_SECONDS })),
      }),
    ),
    session: Type.Optional(Session),
});
const Body = Type.Union([BodyObject, Type.Null()]);

/**
 * `POST /v1/realtime/client_secrets`, as OpenAI's SDKs call it (`client.realtime.clientSecrets.create`):
 * a short-lived `ek_…` secret that opens the realtime socket for the caller, and only that.
 */
export const clientSecretRoutes: FastifyPluginAsyncTypebox<ClientSecretRouteOptions> = async (app, options) => {
  useOpenAIErrors(app);
  const secrets = new ClientSecrets(options.auth.accessTokens);
  await app.register(async (scope) => {
    requireAuth(scope, options.auth);
    scope.post(
      '/client_secrets',
      {
        schema: {
          tags: ['openai-compatible'],
          summary: 'A short-lived client secret for the realtime socket (OpenAI-compatible)',
          description:
            'For browsers and other clients that must not hold the real credential: the secret opens ' +
            '`GET /v1/realtime` (as `Authorization: Bearer ek_…` or the `openai-insecure-api-key.ek_…` ' +
            `subprotocol) and nothing else. It expires after \`expires_after.seconds\` (default ${CLIENT_SECRET_DEFAULT_SECONDS}), ` +
            'but never later than an access token would (ACCESS_TOKEN_EXPIRE_MINUTES); `expires_at` says when. ' +
            'A `session` given here (type "transcription") becomes the socket\'s starting configuration.',
          body: Body,
          response: {
            200: Type.Object({
              value: Type.String(),
              expires_at: Type.Integer(),
              session: Type.Object({}, { additionalProperties: true }),
            }),
            400: OpenAIError,
            401: OpenAIError,
            429: OpenAIError,
          },
        },
      },
      async (request) => {
        const userId = userIdOf(request);
        const body: Static<typeof BodyObject> = request.body ?? {};
        const session = body.session as Record<string, unknown> | undefined;
        assertTranscriptionSession(session);
        const issued = await secrets.issue(userId, { seconds: body.expires_after?.seconds, session: session ?? null });
        return {
          value: issued.value,
          expires_at: issued.expiresAt,
          session: {
            ...session,
            id: newSessionId(),
            object: 'realtime.transcription_session',
            type: 'transcription',
            expires_at: issued.expiresAt,
          },
        };
      },
    );
  });
};
