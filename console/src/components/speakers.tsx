import { useState } from 'preact/hooks';
import { api, problemText } from '../api/client';
import type { Transcription } from '../api/types';
import { useI18n } from '../i18n';

/**
 * Renames the transcript's speaker labels in one step (one PUT, one new version). A transcript
 * changed meanwhile answers 412: the caller reloads it and the user tries again.
 */
export function SpeakersEditor(props: {
  transcription: Transcription;
  etag: string | null;
  onSaved: (transcription: Transcription, etag: string | null) => void;
  onConflict: () => Promise<void>;
}) {
  const { transcription, etag, onSaved, onConflict } = props;
  const { t } = useI18n();
  const labels = [...new Set(transcription.segments.flatMap((s) => (s.speaker ? [s.speaker] : [])))];
  const [names, setNames] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ error: boolean; text: string } | null>(null);
  if (labels.length === 0) return null;

  const save = async (event: Event) => {
    event.preventDefault();
    const speakers = Object.fromEntries(
      labels.flatMap((label) => {
        const name = names[label]?.trim();
        return name && name !== label ? [[label, name]] : [];
      }),
    );
    if (Object.keys(speakers).length === 0) return;
    setBusy(true);
    setMessage(null);
    const result = await api.PUT('/api/v1/audio/transcription/{transcription_id}/speakers', {
      params: { path: { transcription_id: transcription.id } },
      headers: etag ? { 'if-match': etag } : {},
      body: { speakers },
    });
    setBusy(false);
    if (result.data) {
      setNames({});
      setMessage({ error: false, text: t('speakers.saved') });
      onSaved(result.data, result.response.headers.get('etag'));
    } else if (result.response.status === 412) {
      await onConflict();
      setMessage({ error: true, text: t('tr.conflict') });
    } else setMessage({ error: true, text: problemText(result.error) });
  };

  return (
    <details class="card speakers">
      <summary>{t('speakers.heading')}</summary>
      <form onSubmit={(e) => void save(e)}>
        {labels.map((label) => (
          <label key={label}>
            {t('speakers.rename', { label })}
            <input
              type="text"
              maxLength={100}
              placeholder={label}
              value={names[label] ?? ''}
              onInput={(e) => {
                const value = e.currentTarget.value;
                setNames((all) => ({ ...all, [label]: value }));
              }}
            />
          </label>
        ))}
        <button type="submit" disabled={busy}>
          {t('speakers.save')}
        </button>
        {message && (
          <p role={message.error ? 'alert' : 'status'} class={message.error ? 'error' : 'ok'}>
            {message.text}
          </p>
        )}
      </form>
    </details>
  );
}
