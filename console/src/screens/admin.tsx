import { useEffect, useState } from 'preact/hooks';
import { api, problemText, unwrap } from '../api/client';
import type { paths } from '../api/schema';
import { currentSession, setSession, type Session } from '../api/session';
import { useI18n } from '../i18n';
import { StatusPanel } from './admin-status';

type Json<T> = T extends { content: { 'application/json': infer B } } ? B : never;
type UserPage = Json<paths['/api/v1/admin/users']['get']['responses'][200]>;
type AdminUser = UserPage['items'][number];
const ADMIN = 'admin';

type Role = NonNullable<paths['/api/v1/admin/users/{id}']['patch']['requestBody']>['content']['application/json']['role'];

/**
 * Whether the signed-in account is an admin: the role the log-in answered with, kept in the
 * session (the API still checks on every admin request). A session saved without it asks
 * GET /auth/me once and keeps the answer.
 */
export function useIsAdmin(session: Session | null): boolean {
  const known = session?.role;
  useEffect(() => {
    if (!session || (known !== undefined && known !== null)) return;
    let live = true;
    void api.GET('/api/v1/auth/me').then(({ data }) => {
      const current = currentSession();
      if (live && data && current) setSession({ ...current, role: data.role });
    });
    return () => {
      live = false;
    };
  }, [session === null, known]);
  return known === ADMIN;
}

function UsersPanel() {
  const { t } = useI18n();
  const [users, setUsers] = useState<AdminUser[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [since, setSince] = useState('');
  const [error, setError] = useState<string | null>(null);

  const load = async (after: string | null) => {
    setError(null);
    try {
      const query = { limit: 50, ...(after ? { cursor: after } : {}), ...(since ? { since: new Date(since).toISOString() } : {}) };
      const page = unwrap(await api.GET('/api/v1/admin/users', { params: { query } }));
      setUsers((current) => (after ? [...(current ?? []), ...page.items] : page.items));
      setCursor(page.next_cursor);
    } catch (e) {
      setError(problemText(e));
    }
  };
  useEffect(() => void load(null), [since]);

  const setRole = async (user: AdminUser, role: Role) => {
    setError(null);
    try {
      const updated = unwrap(await api.PATCH('/api/v1/admin/users/{id}', { params: { path: { id: user.id } }, body: { role } }));
      setUsers((current) => (current ?? []).map((u) => (u.id === updated.id ? updated : u)));
    } catch (e) {
      setError(problemText(e));
      // The select shows what the server has, not what was asked for.
      setUsers((current) => (current ? [...current] : current));
    }
  };

  return (
    <section class="card" aria-labelledby="users-heading">
      <h2 id="users-heading">{t('admin.users')}</h2>
      <label class="inline">
        {t('admin.since')}
        <input type="date" value={since} onChange={(e) => setSince(e.currentTarget.value)} />
      </label>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {users === null ? (
        <p>{t('common.loading')}</p>
      ) : (
        <table class="table users">
          <caption class="visually-hidden">{t('admin.users')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('auth.email')}</th>
              <th scope="col">{t('admin.role')}</th>
              <th scope="col">{t('admin.audioMinutes')}</th>
              <th scope="col">{t('admin.llmTokens')}</th>
              <th scope="col">{t('admin.created')}</th>
            </tr>
          </thead>
          <tbody>
            {users.map((user) => (
              <tr key={user.id} data-user-id={user.id}>
                <th scope="row">{user.email ?? user.id}</th>
                <td>
                  <select
                    aria-label={t('admin.roleOf', { who: user.email ?? user.id })}
                    value={user.role}
                    onChange={(e) => void setRole(user, e.currentTarget.value as Role)}
                  >
                    <option value="user">{t('admin.roleUser')}</option>
                    <option value="admin">{t('admin.roleAdmin')}</option>
                  </select>
                </td>
                <td class="num">{user.usage.audio_minutes.toFixed(1)}</td>
                <td class="num">
                  {t('admin.tokens', { input: user.usage.llm_input_tokens, output: user.usage.llm_output_tokens })}
                </td>
                <td>{new Date(user.created_at).toLocaleDateString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {cursor && (
        <button type="button" onClick={() => void load(cursor)}>
          {t('list.more')}
        </button>
      )}
    </section>
  );
}

/** #/admin: accounts and usage, the server's engines and queue. The API answers 403 to non-admins. */
export function AdminScreen() {
  const { t } = useI18n();
  return (
    <>
      <a href="#/">{t('common.back')}</a>
      <h1>{t('admin.heading')}</h1>
      <StatusPanel />
      <UsersPanel />
    </>
  );
}
