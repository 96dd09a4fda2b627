import { useEffect, useState } from 'preact/hooks';
import { api, problemText, unwrap } from '../api/client';
import type { paths } from '../api/schema';
import { useI18n } from '../i18n';
import { ShownOnce } from '../components/shown-once';

type Json<T> = T extends { content: { 'application/json': infer B } } ? B : never;
type Webhook = Json<paths['/api/v1/webhooks']['get']['responses'][200]>['items'][number];
type Delivery = Json<paths['/api/v1/webhooks/{id}/deliveries']['get']['responses'][200]>['items'][number];
type EventName = NonNullable<paths['/api/v1/webhooks']['post']['requestBody']>['content']['application/json']['events'][number];

// The API's list (src/webhooks/service.ts WEBHOOK_EVENTS); the request body's type checks each one.
const EVENTS: EventName[] = ['transcription.completed', 'transcription.failed', 'transcription.edited', 'chat.completed', 'summary.completed'];

function Deliveries({ webhook }: { webhook: Webhook }) {
  const { t } = useI18n();
  const [items, setItems] = useState<Delivery[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    void (async () => {
      try {
        const page = unwrap(await api.GET('/api/v1/webhooks/{id}/deliveries', { params: { path: { id: webhook.id }, query: { limit: 20 } } }));
        setItems(page.items);
      } catch (e) {
        setError(problemText(e));
      }
    })();
  }, [webhook.id]);
  if (error) return <p role="alert" class="error">{error}</p>;
  if (items === null) return <p>{t('common.loading')}</p>;
  if (items.length === 0) return <p>{t('account.noDeliveries')}</p>;
  return (
    <table class="table">
      <caption class="visually-hidden">{t('account.deliveriesOf', { url: webhook.url })}</caption>
      <thead>
        <tr>
          <th scope="col">{t('account.event')}</th>
          <th scope="col">{t('account.status')}</th>
          <th scope="col">{t('account.attempts')}</th>
          <th scope="col">{t('account.created')}</th>
        </tr>
      </thead>
      <tbody>
        {items.map((d) => (
          <tr key={d.id}>
            <td>{d.event}</td>
            <td>
              {d.status}
              {d.last_status_code !== null && ` (${d.last_status_code})`}
              {d.last_error && <span class="meta"> {d.last_error}</span>}
            </td>
            <td>{d.attempts}</td>
            <td>{new Date(d.created_at).toLocaleString()}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The deliveries, fetched when opened (and again each time). */
function DeliveriesToggle({ webhook }: { webhook: Webhook }) {
  const { t } = useI18n();
  const [open, setOpen] = useState(false);
  return (
    <details onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary>{t('account.deliveries')}</summary>
      {open && <Deliveries webhook={webhook} />}
    </details>
  );
}

export function WebhooksPanel() {
  const { t } = useI18n();
  const [hooks, setHooks] = useState<Webhook[] | null>(null);
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState<EventName[]>(['transcription.completed']);
  const [secret, setSecret] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = async () => {
    try {
      setHooks(unwrap(await api.GET('/api/v1/webhooks')).items);
    } catch (e) {
      setError(problemText(e));
    }
  };
  useEffect(() => void load(), []);

  const toggle = (event: EventName, on: boolean) =>
    setEvents((current) => (on ? [...current.filter((e) => e !== event), event] : current.filter((e) => e !== event)));

  const create = async (event: Event) => {
    event.preventDefault();
    setError(null);
    try {
      const created = unwrap(await api.POST('/api/v1/webhooks', { body: { url: url.trim(), events } }));
      setSecret(created.secret);
      setUrl('');
      await load();
    } catch (e) {
      setError(problemText(e));
    }
  };

  const remove = async (hook: Webhook) => {
    if (!confirm(t('account.deleteWebhookConfirm', { url: hook.url }))) return;
    setError(null);
    const { error: problem, response } = await api.DELETE('/api/v1/webhooks/{id}', { params: { path: { id: hook.id } } });
    if (!response.ok) setError(problemText(problem ?? `HTTP ${response.status}`));
    await load();
  };

  return (
    <section class="card" aria-labelledby="webhooks-heading">
      <h2 id="webhooks-heading">{t('account.webhooks')}</h2>
      <p class="meta">{t('account.webhooksHelp')}</p>
      <form onSubmit={(e) => void create(e)}>
        <label>
          {t('account.webhookUrl')}
          <input type="url" name="webhook-url" required placeholder="https://" value={url} onInput={(e) => setUrl(e.currentTarget.value)} />
        </label>
        <fieldset>
          <legend>{t('account.events')}</legend>
          {EVENTS.map((name) => (
            <label class="check" key={name}>
              <input type="checkbox" checked={events.includes(name)} onChange={(e) => toggle(name, e.currentTarget.checked)} />
              {name}
            </label>
          ))}
        </fieldset>
        <button type="submit" disabled={events.length === 0}>
          {t('account.createWebhook')}
        </button>
      </form>
      {secret && <ShownOnce label={t('account.newSecret')} value={secret} onDone={() => setSecret(null)} />}
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {hooks === null ? (
        <p>{t('common.loading')}</p>
      ) : hooks.length === 0 ? (
        <p>{t('account.noWebhooks')}</p>
      ) : (
        <ul class="webhooks">
          {hooks.map((hook) => (
            <li key={hook.id}>
              <div class="row">
                <code class="hook-url">{hook.url}</code>
                <span class="meta">{hook.events.join(', ')}</span>
                {hook.disabled_at && <span class="error">{t('account.disabled')}</span>}
                <button type="button" class="small" aria-label={t('account.deleteWebhookNamed', { url: hook.url })} onClick={() => void remove(hook)}>
                  {t('account.delete')}
                </button>
              </div>
              <DeliveriesToggle webhook={hook} />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
