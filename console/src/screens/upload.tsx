import { useRef, useState } from 'preact/hooks';
import { api, authFetch, problemText, unwrap } from '../api/client';
import type { RecordingDetail } from '../api/types';
import { Recorder } from '../components/recorder';
import { useI18n } from '../i18n';

/** Audio by drag and drop, the file picker or the microphone, or a transcript as text; opens the new recording. */
export function UploadPanel() {
  const { t } = useI18n();
  const [file, setFile] = useState<File | null>(null);
  const [title, setTitle] = useState('');
  const [language, setLanguage] = useState('');
  const [text, setText] = useState('');
  const [dragging, setDragging] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const picker = useRef<HTMLInputElement>(null);

  const open = (id: string) => {
    location.hash = `#/recordings/${id}`;
  };

  const uploadAudio = async (event: Event) => {
    event.preventDefault();
    if (!file) return picker.current?.focus();
    setBusy(true);
    setError(null);
    try {
      const form = new FormData();
      form.append('title', title.trim() || file.name);
      if (language.trim()) form.append('language', language.trim());
      // The file last: the API reads the fields that come before it.
      form.append('file', file, file.name);
      const res = await authFetch('/api/v1/audio/upload', { method: 'POST', body: form });
      const body = (await res.json()) as RecordingDetail | { detail?: string };
      if (!res.ok) throw new Error(problemText(body));
      open((body as RecordingDetail).id);
    } catch (e) {
      setError(problemText(e));
    } finally {
      setBusy(false);
    }
  };

  const uploadText = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = { title: title.trim() || text.trim().slice(0, 60), original_text: text, ...(language.trim() ? { language: language.trim() } : {}) };
      const created = unwrap(await api.POST('/api/v1/audio/upload', { body }));
      open(created.id);
    } catch (e) {
      setError(problemText(e));
    } finally {
      setBusy(false);
    }
  };

  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    setDragging(false);
    const dropped = event.dataTransfer?.files[0];
    if (dropped) setFile(dropped);
  };

  return (
    <section class="card" aria-labelledby="upload-heading">
      <h2 id="upload-heading">{t('upload.heading')}</h2>
      <form onSubmit={(e) => void uploadAudio(e)}>
        <div
          class={`dropzone${dragging ? ' dragging' : ''}`}
          onDragOver={(e) => {
            e.preventDefault();
            setDragging(true);
          }}
          onDragLeave={() => setDragging(false)}
          onDrop={onDrop}
        >
          <p>{t('upload.drop')}</p>
          <label>
            {t('upload.file')}
            <input ref={picker} type="file" name="file" accept="audio/*,video/webm" onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)} />
          </label>
          <Recorder disabled={busy} onRecorded={setFile} />
          {file && <p class="meta">{file.name}</p>}
        </div>
        <div class="row">
          <label>
            {t('upload.title')}
            <input name="title" value={title} maxLength={500} onInput={(e) => setTitle(e.currentTarget.value)} />
          </label>
          <label>
            {t('upload.language')}
            <input name="language" value={language} maxLength={35} onInput={(e) => setLanguage(e.currentTarget.value)} />
          </label>
        </div>
        <button type="submit" disabled={busy || !file}>
          {busy ? t('upload.uploading') : t('upload.submit')}
        </button>
      </form>
      <details>
        <summary>{t('upload.asText')}</summary>
        <form onSubmit={(e) => void uploadText(e)}>
          <label>
            {t('upload.text')}
            <textarea name="original_text" rows={5} required value={text} onInput={(e) => setText(e.currentTarget.value)} />
          </label>
          <button type="submit" disabled={busy || !text.trim()}>
            {t('upload.submitText')}
          </button>
        </form>
      </details>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
    </section>
  );
}
