import { Type } from 'typebox';
import { API_KEY_SCOPES } from './scopes.js';

export const Email = Type.String({ format: 'email', maxLength: 320 });
export const Password = Type.String({ minLength: 8, maxLength: 1024 });

export const User = Type.Object({
  id: Type.String({ format: 'uuid' }),
  email: Type.Union([Type.String(), Type.Null()]),
  role: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
});

export const TokenPair = Type.Object({
  access_token: Type.String(),
  refresh_token: Type.String(),
  token_type: Type.Literal('bearer'),
  expires_in: Type.Integer({ description: 'Seconds until the access token expires' }),
  user: User,
});

export const Credentials = Type.Object({
  email: Email,
  password: Password,
});

/** Log-in also takes OAuth2's password form (username=…&password=…) so Swagger UI's Authorize works. */
export const LoginBody = Type.Object({
  email: Type.Optional(Email),
  username: Type.Optional(Type.String({ maxLength: 320 })),
  password: Type.String({ minLength: 1, maxLength: 1024 }),
});

export const RefreshBody = Type.Object({ refresh_token: Type.String({ minLength: 1, maxLength: 512 }) });

export const ApiKey = Type.Object({
  id: Type.String({ format: 'uuid' }),
  name: Type.String(),
  prefix: Type.String({ description: 'The first characters of the key, to recognise it' }),
  scopes: Type.Array(Type.String(), { description: 'What the key may do beyond acting as its owner' }),
  created_at: Type.String({ format: 'date-time' }),
  expires_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  last_used_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  revoked_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

export const CreatedApiKey = Type.Object({
  ...ApiKey.properties,
  key: Type.String({ description: 'The key itself; shown this once and never again' }),
});

export const CreateApiKeyBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 200 }),
  expires_in_days: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })),
  scopes: Type.Optional(
    Type.Array(Type.Enum(API_KEY_SCOPES), {
      maxItems: API_KEY_SCOPES.length,
      uniqueItems: true,
      description:
        'What the key may do beyond acting as its owner. Without `keys:manage` (the default) a key cannot ' +
        'create, list or revoke API keys, nor change other credentials: that is for interactive log-ins. ' +
        'A key that has `keys:manage` may give it to the keys it creates.',
    }),
  ),
});

