import type { AuthContext } from './service.js';

/**
 * What an API key may do beyond acting as its owner. Interactive log-ins (our access tokens,
 * Supabase tokens) may do everything; a key only what it was created with.
 */
export const API_KEY_SCOPES = ['keys:manage'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

/** Creating, listing and revoking API keys, and any other change to an account's credentials. */
export const MANAGE_CREDENTIALS: ApiKeyScope = 'keys:manage';

export function isApiKeyScope(value: string): value is ApiKeyScope {
  return (API_KEY_SCOPES as readonly string[]).includes(value);
}

/** Whether `caller` may do what `scope` guards. */
export function hasScope(caller: AuthContext, scope: ApiKeyScope): boolean {
  return caller.method !== 'api_key' || (caller.scopes ?? []).includes(scope);
}
