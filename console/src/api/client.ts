import createClient from 'openapi-fetch';
import type { paths } from './schema';
import { currentSession, setSession } from './session';

let refreshing: Promise<boolean> | null = null;

/** Trades the refresh token for a new pair, once for all the requests that got a 401 together. */
function refresh(): Promise<boolean> {
  refreshing ??= (async () => {
    const session = currentSession();
    if (!session) return false;
    try {
      const res = await fetch('/api/v1/auth/refresh', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refresh_token: session.refreshToken }),
      });
      if (!res.ok) {
        setSession(null);
        return false;
      }
      const body = (await res.json()) as { access_token: string; refresh_token: string };
      setSession({ ...session, accessToken: body.access_token, refreshToken: body.refresh_token });
      return true;
    } catch {
      return false;
    }
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

function withBearer(request: Request): Request {
  const session = currentSession();
  if (session) request.headers.set('authorization', `Bearer ${session.accessToken}`);
  return request;
}

/**
 * fetch with the bearer token; on a 401 the tokens are refreshed silently and the request is sent
 * once more (a copy taken before sending, so bodies such as uploads can be sent again).
 */
export async function authFetch(input: Request | string, init?: RequestInit): Promise<Response> {
  const request = withBearer(new Request(input, init));
  const retry = request.clone();
  const res = await fetch(request);
  if (res.status !== 401 || !currentSession() || request.url.endsWith('/api/v1/auth/refresh')) return res;
  if (!(await refresh())) return res;
  return fetch(withBearer(retry));
}

/** The API, typed from its OpenAPI document (schema.d.ts, made by `npm run console:api`). */
export const api = createClient<paths>({ baseUrl: location.origin, fetch: (request) => authFetch(request) });

interface Problem {
  detail?: string;
  title?: string;
  code?: string;
}

/** A readable message from an API error body (problem+json) or anything thrown. */
export function problemText(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (error && typeof error === 'object') {
    const problem = error as Problem;
    return problem.detail ?? problem.title ?? problem.code ?? JSON.stringify(error);
  }
  return String(error);
}

/** The data of an openapi-fetch result, or an Error carrying the API's problem detail. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.error !== undefined || result.data === undefined) {
    throw new Error(result.error === undefined ? `HTTP ${result.response.status}` : problemText(result.error));
  }
  return result.data;
}
