import { useEffect, useState } from 'preact/hooks';
import { api } from './api/client';
import { currentSession, onSessionChange, setSession, type Session } from './api/session';
import { LOCALES, setLocale, useI18n, type Locale } from './i18n';
import { AccountScreen } from './screens/account';
import { AdminScreen, useIsAdmin } from './screens/admin';
import { AuthScreen } from './screens/auth';
import { LiveScreen } from './screens/live';
import { RecordingScreen } from './screens/recording';
import { RecordingsScreen } from './screens/recordings';

/** `#/` is the list, `#/recordings/<id>` one recording (optionally `?t=<seconds>` to seek), `#/live` a live session. */
type Route = { name: 'list' } | { name: 'recording'; id: string; at: number | null } | { name: 'live' } | { name: 'account' } | { name: 'admin' };

function parseRoute(hash: string): Route {
  if (hash === '#/live') return { name: 'live' };
  if (hash === '#/account') return { name: 'account' };
  if (hash === '#/admin') return { name: 'admin' };
  const match = /^#\/recordings\/([0-9a-f-]{36})(?:\?t=([\d.]+))?$/.exec(hash);
  if (match) return { name: 'recording', id: match[1]!, at: match[2] ? Number(match[2]) : null };
  return { name: 'list' };
}

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onHash = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  return route;
}

function LanguageSwitch() {
  const { locale, t } = useI18n();
  return (
    <label class="language">
      {t('app.language')}{' '}
      <select value={locale} onChange={(e) => setLocale(e.currentTarget.value as Locale)}>
        {Object.keys(LOCALES).map((code) => (
          <option key={code} value={code}>
            {code === 'es' ? 'Español' : 'English'}
          </option>
        ))}
      </select>
    </label>
  );
}

export function App() {
  const { t } = useI18n();
  const [session, setState] = useState<Session | null>(currentSession());
  const route = useRoute();
  const isAdmin = useIsAdmin(session);
  useEffect(() => onSessionChange(setState), []);

  const logout = async () => {
    const refreshToken = session?.refreshToken;
    // The API revokes the refresh token; the page forgets both whatever it answers.
    if (refreshToken) await api.POST('/api/v1/auth/logout', { body: { refresh_token: refreshToken } }).catch(() => undefined);
    setSession(null);
    location.hash = '#/';
  };

  return (
    <>
      <header class="topbar">
        <a class="brand" href="#/">
          {t('app.title')}
        </a>
        <nav aria-label="account">
          {session?.email && <span class="who">{t('auth.signedInAs', { email: session.email })}</span>}
          <LanguageSwitch />
          {session && <a href="#/live">{t('app.live')}</a>}
          {session && <a href="#/account">{t('account.nav')}</a>}
          {isAdmin && <a href="#/admin">{t('admin.nav')}</a>}
          <a href="/docs">{t('app.docs')}</a>
          {session && (
            <button type="button" onClick={() => void logout()}>
              {t('app.logout')}
            </button>
          )}
        </nav>
      </header>
      <main>
        {!session ? (
          <AuthScreen />
        ) : route.name === 'account' ? (
          <AccountScreen />
        ) : route.name === 'admin' ? (
          <AdminScreen />
        ) : route.name === 'live' ? (
          <LiveScreen />
        ) : route.name === 'recording' ? (
          <RecordingScreen key={route.id} id={route.id} at={route.at} />
        ) : (
          <RecordingsScreen />
        )}
      </main>
    </>
  );
}
