import { useEffect, useState } from 'preact/hooks';
import { api, authFetch, problemText, unwrap } from '../api/client';
import { readEvents } from '../api/events';
import type { RecordingDetail, TranscribeBody, Transcription } from '../api/types';
import { useI18n, type MessageKey } from '../i18n';
import { TranscriptView } from './transcript';

export interface Loaded {
  transcription: Transcription;
  etag: string | null;
}

/** The recording's latest transcription with its ETag; null when it has none. */
export async function latestTranscription(id: string): Promise<Loaded | null> {
  const res = await authFetch(`/api/v1/audio/${id}/transcription`);
  if (res.status === 404) return null;
  const body = (await res.json()) as Transcription;
  if (!res.ok) throw new Error(problemText(body));
  return { transcription: body, etag: res.headers.get('etag') };
}

const ENGINES = ['whisper', 'openai', 'sphinx'] as const;

function TranscribeForm({ id, language: initialLanguage, onQueued }: { id: string; language: string | null; onQueued: () => void }) {
  const { t } = useI18n();
  const [engine, setEngine] = useState('');
  const [language, setLanguage] = useState(initialLanguage ?? '');
  const [vad, setVad] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body: TranscribeBody = { vad, word_timestamps: true };
      if (engine) body.engine = engine as (typeof ENGINES)[number];
      if (language.trim()) body.language = language.trim();
      unwrap(await api.POST('/api/v1/audio/{id}/transcribe', { params: { path: { id } }, body }));
      onQueued();
    } catch (e) {
      setError(problemText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card" aria-label={t('rec.transcribe')} onSubmit={(e) => void submit(e)}>
      <div class="row">
        <label>
          {t('rec.engine')}
          <select name="engine" value={engine} onChange={(e) => setEngine(e.currentTarget.value)}>
            <option value="">{t('rec.engineDefault')}</option>
            {ENGINES.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('rec.language')}
          <input name="language" value={language} maxLength={35} onInput={(e) => setLanguage(e.currentTarget.value)} />
        </label>
        <label class="check">
          <input type="checkbox" name="vad" checked={vad} onChange={(e) => setVad(e.currentTarget.checked)} />
          {t('rec.vad')}
        </label>
      </div>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      <button type="submit" disabled={busy}>
        {t('rec.transcribe')}
      </button>
    </form>
  );
}

/**
 * A stream that ends at once while the transcription still reads running (the row not yet
 * updated, a proxy cutting the stream) is opened again after a growing pause, never in a tight loop.
 */
function reopenDelay(streamMs: number, attempt: number): number {
  return streamMs >= 1_000 ? 0 : Math.min(250 * 2 ** attempt, 5_000);
}

/** Live progress from the job's event stream until it ends; then `onDone` reloads. */
function JobProgress({ jobId, attempt, onDone }: { jobId: string; attempt: number; onDone: () => void }) {
  const { t } = useI18n();
  const [progress, setProgress] = useState(0);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const abort = new AbortController();
    const opened = Date.now();
    let pause: ReturnType<typeof setTimeout> | undefined;
    readEvents(
      `/api/v1/jobs/${jobId}/events`,
      ({ event, data }) => {
        if (event === 'progress' && data && typeof data === 'object' && 'progress' in data) setProgress(Number(data.progress));
      },
      abort.signal,
    )
      // The stream ends after the final event (or on a server restart): the transcription row says which.
      .then(() => {
        if (!abort.signal.aborted) pause = setTimeout(onDone, reopenDelay(Date.now() - opened, attempt));
      })
      .catch((e: unknown) => {
        if (!abort.signal.aborted) setError(problemText(e));
      });
    return () => {
      abort.abort();
      clearTimeout(pause);
    };
  }, [jobId]);
  const cancel = async () => {
    try {
      unwrap(await api.POST('/api/v1/jobs/{id}/cancel', { params: { path: { id: jobId } } }));
    } catch (e) {
      setError(problemText(e));
    }
  };
  return (
    <section class="card" aria-labelledby="progress-label">
      <label id="progress-label">
        {t('rec.progress')}{' '}
        <progress max={100} value={progress}>
          {progress} %
        </progress>{' '}
        <span aria-live="polite">{progress} %</span>
      </label>
      <button type="button" onClick={() => void cancel()}>
        {t('rec.cancel')}
      </button>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
    </section>
  );
}

export function RecordingScreen({ id, at }: { id: string; at: number | null }) {
  const { t } = useI18n();
  const [recording, setRecording] = useState<RecordingDetail | null>(null);
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [generation, setGeneration] = useState(0);

  useEffect(() => {
    let live = true;
    (async () => {
      const detail = unwrap(await api.GET('/api/v1/audio/{id}', { params: { path: { id } } }));
      const latest = await latestTranscription(id);
      if (!live) return;
      setRecording(detail);
      setLoaded(latest);
    })().catch((e: unknown) => live && setError(problemText(e)));
    return () => {
      live = false;
    };
  }, [id, generation]);
  const reload = () => setGeneration((g) => g + 1);

  if (error) {
    return (
      <p role="alert" class="error">
        {t('common.error', { detail: error })}
      </p>
    );
  }
  if (!recording) return <p aria-live="polite">{t('common.loading')}</p>;
  const transcription = loaded?.transcription ?? null;
  const status = transcription?.status;
  const running = (status === 'queued' || status === 'processing') && transcription?.job_id;
  return (
    <>
      <p>
        <a href="#/">{t('common.back')}</a>
      </p>
      <h1>{recording.title}</h1>
      {transcription && (
        <p class="status" data-status={status}>
          {t('rec.status', { status: t(`status.${status}` as MessageKey) })}
        </p>
      )}
      {transcription?.status === 'failed' && (
        <p role="alert" class="error">
          {t('rec.failed', { detail: transcription.error ?? transcription.error_code ?? '' })}
        </p>
      )}
      {running ? (
        // Keyed by the reload too: a stream that ended early (a server restart) is opened again.
        <JobProgress key={`${transcription.job_id}-${generation}`} jobId={transcription.job_id!} attempt={generation} onDone={reload} />
      ) : (
        recording.kind === 'audio' && status !== 'completed' && <TranscribeForm id={id} language={recording.language} onQueued={reload} />
      )}
      {!transcription && <p>{t('rec.noTranscript')}</p>}
      {loaded && status === 'completed' && (
        <TranscriptView recording={recording} loaded={loaded} at={at} onChange={setLoaded} />
      )}
    </>
  );
}
