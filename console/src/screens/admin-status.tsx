import { useEffect, useState } from 'preact/hooks';
import { api, authFetch, problemText, unwrap } from '../api/client';
import type { paths } from '../api/schema';
import { useI18n } from '../i18n';

type Json<T> = T extends { content: { 'application/json': infer B } } ? B : never;
type Status = Json<paths['/api/v1/admin/status']['get']['responses'][200]>;

/**
 * bull-board's page cannot send the bearer token with its own requests, so the console first
 * trades the token for the dashboard's session cookie (POST /admin/session, admins only), then
 * opens the dashboard in a new tab, or in this one where the browser blocks the new tab.
 */
async function openDashboard(path: string): Promise<void> {
  const res = await authFetch('/admin/session', { method: 'POST' });
  if (!res.ok) {
    const body: unknown = await res.json().catch(() => null);
    throw new Error(body ? problemText(body) : `HTTP ${res.status}`);
  }
  const tab = window.open(path, '_blank');
  if (tab) tab.opener = null;
  else location.assign(path);
}

function Yes({ ok, yes, no }: { ok: boolean; yes: string; no: string }) {
  return <span class={ok ? 'ok' : 'error'}>{ok ? yes : no}</span>;
}

function QueuePanel({ queue }: { queue: Status['queue'] }) {
  const { t } = useI18n();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const dashboard = queue.dashboard;
  const open = async () => {
    if (!dashboard) return;
    setBusy(true);
    setError(null);
    try {
      await openDashboard(dashboard);
    } catch (e) {
      setError(problemText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="queue">
      <h3>{t('admin.queue')}</h3>
      {dashboard ? (
        <>
          <p>{t('admin.queueBullmq')}</p>
          <button type="button" disabled={busy} onClick={() => void open()}>
            {t('admin.openQueue')}
          </button>
        </>
      ) : (
        <p>{t('admin.queueInline')}</p>
      )}
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
    </div>
  );
}

export function StatusPanel() {
  const { t } = useI18n();
  const [status, setStatus] = useState<Status | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    void (async () => {
      try {
        setStatus(unwrap(await api.GET('/api/v1/admin/status')));
      } catch (e) {
        setError(problemText(e));
      }
    })();
  }, []);

  if (error) {
    return (
      <p role="alert" class="error">
        {error}
      </p>
    );
  }
  if (!status) return <p>{t('common.loading')}</p>;
  const { whisper, openai, sphinx } = status.engines;
  return (
    <section class="card status" aria-labelledby="status-heading">
      <h2 id="status-heading">{t('admin.status')}</h2>
      <dl>
        <dt>{t('admin.defaultEngine')}</dt>
        <dd data-field="default-engine">{status.engines.default}</dd>
        <dt>{t('admin.whisper')}</dt>
        <dd data-field="whisper">
          {t('admin.whisperModel', { model: whisper.model })} <Yes ok={whisper.model_present} yes={t('admin.downloaded')} no={t('admin.notDownloaded')} />
          <div class="meta">
            {t('admin.modelsIn', { dir: whisper.models_dir })}{' '}
            {whisper.present.length === 0 ? t('admin.noModels') : whisper.present.map((m) => m.name ?? m.file).join(', ')}
          </div>
        </dd>
        <dt>{t('admin.openaiStt')}</dt>
        <dd data-field="openai">
          <Yes ok={openai.configured} yes={t('admin.configured')} no={t('admin.llmNone')} /> <span class="meta">{openai.model}</span>
        </dd>
        <dt>{t('admin.sphinx')}</dt>
        <dd data-field="sphinx">
          <Yes ok={sphinx.available} yes={t('admin.yes')} no={t('admin.no')} /> <span class="meta">{sphinx.binary}</span>
        </dd>
        <dt>{t('admin.llm')}</dt>
        <dd data-field="llm">
          {status.llm.provider ? `${status.llm.provider} · ${status.llm.model}` : t('admin.llmNone')}
          {status.llm.configured.length > 0 && <div class="meta">{t('admin.llmConfigured', { list: status.llm.configured.join(', ') })}</div>}
        </dd>
      </dl>
      <QueuePanel queue={status.queue} />
    </section>
  );
}
