import { useEffect, useState } from 'preact/hooks';
import { api, problemText, unwrap } from '../api/client';
import type { paths } from '../api/schema';
import { useI18n } from '../i18n';
import { ShownOnce } from '../components/shown-once';
import { WebhooksPanel } from './account-webhooks';

type Json<T> = T extends { content: { 'application/json': infer B } } ? B : never;
type ApiKey = Json<paths['/api/v1/auth/api-keys']['get']['responses'][200]>['items'][number];

function Alert({ error }: { error: string | null }) {
  return error ? (
    <p role="alert" class="error">
      {error}
    </p>
  ) : null;
}

function ApiKeysPanel() {
  const { t } = useI18n();
  const [keys, setKeys] = useState<ApiKey[] | null>(null);
  const [name, setName] = useState('');
  const [created, setCreated] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = async () => {
    try {
      setKeys(unwrap(await api.GET('/api/v1/auth/api-keys')).items);
    } catch (e) {
      setError(problemText(e));
    }
  };
  useEffect(() => void load(), []);

  const create = async (event: Event) => {
    event.preventDefault();
    setError(null);
    try {
      const key = unwrap(await api.POST('/api/v1/auth/api-keys', { body: { name: name.trim() } }));
      setCreated(key.key);
      setName('');
      await load();
    } catch (e) {
      setError(problemText(e));
    }
  };

  const revoke = async (key: ApiKey) => {
    if (!confirm(t('account.revokeConfirm', { name: key.name }))) return;
    setError(null);
    const { error: problem, response } = await api.DELETE('/api/v1/auth/api-keys/{id}', { params: { path: { id: key.id } } });
    if (!response.ok) setError(problemText(problem ?? `HTTP ${response.status}`));
    await load();
  };

  const active = (keys ?? []).filter((key) => key.revoked_at === null);
  return (
    <section class="card" aria-labelledby="keys-heading">
      <h2 id="keys-heading">{t('account.keys')}</h2>
      <p class="meta">{t('account.keysHelp')}</p>
      <form class="row" onSubmit={(e) => void create(e)}>
        <label>
          {t('account.keyName')}
          <input name="key-name" required maxLength={200} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <button type="submit">{t('account.createKey')}</button>
      </form>
      {created && <ShownOnce label={t('account.newKey')} value={created} onDone={() => setCreated(null)} />}
      <Alert error={error} />
      {keys === null ? (
        <p>{t('common.loading')}</p>
      ) : active.length === 0 ? (
        <p>{t('account.noKeys')}</p>
      ) : (
        <table class="table">
          <caption class="visually-hidden">{t('account.keys')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('account.keyName')}</th>
              <th scope="col">{t('account.prefix')}</th>
              <th scope="col">{t('account.created')}</th>
              <th scope="col">{t('account.lastUsed')}</th>
              <th scope="col">
                <span class="visually-hidden">{t('account.actions')}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {active.map((key) => (
              <tr key={key.id} data-key-id={key.id}>
                <td>{key.name}</td>
                <td>
                  <code>{key.prefix}…</code>
                </td>
                <td>{new Date(key.created_at).toLocaleString()}</td>
                <td>{key.last_used_at ? new Date(key.last_used_at).toLocaleString() : t('account.never')}</td>
                <td>
                  <button type="button" class="small" aria-label={t('account.revokeNamed', { name: key.name })} onClick={() => void revoke(key)}>
                    {t('account.revoke')}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** #/account: the signed-in user's API keys and webhooks. */
export function AccountScreen() {
  const { t } = useI18n();
  return (
    <>
      <a href="#/">{t('common.back')}</a>
      <h1>{t('account.heading')}</h1>
      <ApiKeysPanel />
      <WebhooksPanel />
    </>
  );
}
