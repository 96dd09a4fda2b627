/**
 * The signed-in user's tokens. Kept in localStorage so a reload stays signed in; the access token
 * lives 30 minutes and the refresh token works once (the API revokes a reused one).
 */
export interface Session {
  accessToken: string;
  refreshToken: string;
  email: string | null;
  /** The account's role when signed in (`admin` shows the Admin screen); absent in sessions saved before it was kept. */
  role?: string | null;
}

const KEY = 'transcribo.session';
let session: Session | null = load();
const listeners = new Set<(session: Session | null) => void>();

function load(): Session | null {
  try {
    const raw = localStorage.getItem(KEY);
    if (!raw) return null;
    const parsed = JSON.parse(raw) as Partial<Session>;
    if (typeof parsed.accessToken !== 'string' || typeof parsed.refreshToken !== 'string') return null;
    return { accessToken: parsed.accessToken, refreshToken: parsed.refreshToken, email: parsed.email ?? null, role: parsed.role ?? null };
  } catch {
    return null;
  }
}

export function currentSession(): Session | null {
  return session;
}

export function setSession(next: Session | null): void {
  session = next;
  try {
    if (next) localStorage.setItem(KEY, JSON.stringify(next));
    else localStorage.removeItem(KEY);
  } catch {
    // Storage refused (private mode): the session lasts this page only.
  }
  for (const listener of listeners) listener(next);
}

export function onSessionChange(listener: (session: Session | null) => void): () => void {
  listeners.add(listener);
  return () => void listeners.delete(listener);
}
