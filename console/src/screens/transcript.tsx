import { Fragment } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, authFetch, problemText, unwrap } from '../api/client';
import type { RecordingDetail, Segment, Version } from '../api/types';
import { clock, segmentAt } from '../format';
import { useI18n } from '../i18n';
import type { Loaded } from './recording';
import { ChatPanel } from '../components/chat-panel';
import type { CiteTarget } from '../components/citations';
import { SpeakersEditor } from '../components/speakers';
import { SummaryPanel } from '../components/summary-panel';
import { WordSpan } from '../components/word';

const FORMATS = [
  { format: 'json', ext: 'json' },
  { format: 'text', ext: 'txt' },
  { format: 'srt', ext: 'srt' },
  { format: 'vtt', ext: 'vtt' },
  { format: 'verbose_json', ext: 'verbose.json' },
] as const;

/** The recording's audio as a blob URL: an <audio> element cannot send the bearer header itself. */
function useAudioUrl(recording: RecordingDetail): string | null {
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    if (recording.kind !== 'audio') return;
    let objectUrl: string | null = null;
    let live = true;
    void authFetch(`/api/v1/audio/${recording.id}/file`)
      .then((res) => (res.ok ? res.blob() : null))
      .then((blob) => {
        if (!blob || !live) return;
        objectUrl = URL.createObjectURL(blob);
        setUrl(objectUrl);
      });
    return () => {
      live = false;
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [recording.id]);
  return url;
}

async function download(transcriptionId: string, format: string, filename: string): Promise<void> {
  const res = await authFetch(`/api/v1/audio/transcription/${transcriptionId}?format=${format}`);
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  const url = URL.createObjectURL(await res.blob());
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  // Revoked later: the download reads the blob after click() returns.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

function SegmentRow(props: {
  segment: Segment;
  current: boolean;
  onSeek: (time: number) => void;
  onSave: (segment: Segment, text: string) => Promise<boolean>;
}) {
  const { segment, current, onSeek, onSave } = props;
  const { t } = useI18n();
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(segment.text);
  const [busy, setBusy] = useState(false);
  const time = clock(segment.start);
  const seek = (at: number | null) => at !== null && onSeek(at);

  const save = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    if (await onSave(segment, draft)) setEditing(false);
    setBusy(false);
  };

  return (
    <li class={`segment${current ? ' current' : ''}`} aria-current={current ? 'true' : undefined} data-segment-id={segment.id} data-start={segment.start ?? ''}>
      {segment.start !== null ? (
        <button type="button" class="time" aria-label={t('tr.seek', { time })} onClick={() => seek(segment.start)}>
          {time}
        </button>
      ) : (
        <span class="time">–</span>
      )}
      {segment.speaker && <span class="speaker">{segment.speaker}</span>}
      {editing ? (
        <form class="edit" onSubmit={(e) => void save(e)}>
          <label>
            <span class="visually-hidden">{t('tr.editLabel', { time })}</span>
            <textarea rows={2} required maxLength={10_000} value={draft} onInput={(e) => setDraft(e.currentTarget.value)} />
          </label>
          <button type="submit" disabled={busy || !draft.trim()}>
            {t('common.save')}
          </button>
          <button type="button" onClick={() => setEditing(false)}>
            {t('common.cancel')}
          </button>
        </form>
      ) : (
        <>
          {/* Words seek with the mouse; the time button is the keyboard's way to the same place. */}
          <span class="text" onClick={() => seek(segment.start)}>
            {segment.words && segment.words.length > 0
              ? segment.words.map((word, i) => (
                  <Fragment key={i}>
                    {i > 0 && ' '}
                    <WordSpan word={word} onSeek={seek} />
                  </Fragment>
                ))
              : segment.text}
          </span>
          <button
            type="button"
            class="small"
            onClick={() => {
              setDraft(segment.text);
              setEditing(true);
            }}
          >
            {t('tr.edit')}
          </button>
        </>
      )}
    </li>
  );
}

function Versions({ transcriptionId, current, onReverted }: { transcriptionId: string; current: number; onReverted: () => void }) {
  const { t } = useI18n();
  const [items, setItems] = useState<Version[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = async () => {
    try {
      const page = unwrap(
        await api.GET('/api/v1/audio/transcription/{transcription_id}/versions', { params: { path: { transcription_id: transcriptionId } } }),
      );
      setItems(page.items);
    } catch (e) {
      setError(problemText(e));
    }
  };
  useEffect(() => void load(), [transcriptionId, current]);
  const revert = async (version: number) => {
    try {
      unwrap(
        await api.POST('/api/v1/audio/transcription/{transcription_id}/versions/{version}/revert', {
          params: { path: { transcription_id: transcriptionId, version } },
        }),
      );
      onReverted();
    } catch (e) {
      setError(problemText(e));
    }
  };
  return (
    <details class="card">
      <summary>{t('tr.versions')}</summary>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      <ol class="versions">
        {(items ?? []).map((v) => (
          <li key={v.version}>
            {t('tr.version', { version: v.version })} · {v.action} · {new Date(v.created_at).toLocaleString()}
            {v.version === current ? (
              <em> ({t('tr.current')})</em>
            ) : (
              <button type="button" class="small" onClick={() => void revert(v.version)}>
                {t('tr.revert')}
              </button>
            )}
          </li>
        ))}
      </ol>
    </details>
  );
}

export function TranscriptView(props: { recording: RecordingDetail; loaded: Loaded; at: number | null; onChange: (loaded: Loaded) => void }) {
  const { recording, loaded, at, onChange } = props;
  const { transcription } = loaded;
  const { t } = useI18n();
  const audioUrl = useAudioUrl(recording);
  const player = useRef<HTMLAudioElement>(null);
  const [time, setTime] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const current = segmentAt(transcription.segments, time);
  // Opened at a time (a search hit, a citation from elsewhere): that segment is brought into view.
  useEffect(() => {
    if (at === null) return;
    const hit = transcription.segments[segmentAt(transcription.segments, at)];
    if (hit) document.querySelector(`.segment[data-segment-id="${hit.id}"]`)?.scrollIntoView({ block: 'center' });
  }, [at, transcription.id]);

  const seek = (seconds: number) => {
    const audio = player.current;
    if (!audio) return;
    audio.currentTime = seconds;
    setTime(seconds);
  };

  // A citation seeks the player to its segment and brings the segment into view.
  const cite = (target: CiteTarget) => {
    if (target.start !== null) seek(target.start);
    document.querySelector(`.segment[data-segment-id="${target.segmentId}"]`)?.scrollIntoView({ block: 'nearest' });
  };

  const reload = async () => {
    const res = await authFetch(`/api/v1/audio/transcription/${transcription.id}`);
    if (res.ok) onChange({ transcription: (await res.json()) as Loaded['transcription'], etag: res.headers.get('etag') });
  };

  const save = async (segment: Segment, text: string): Promise<boolean> => {
    setError(null);
    const result = await api.PATCH('/api/v1/audio/transcription/{transcription_id}/segments/{segment_id}', {
      params: { path: { transcription_id: transcription.id, segment_id: segment.id } },
      headers: loaded.etag ? { 'if-match': loaded.etag } : {},
      body: { text },
    });
    if (result.data) {
      onChange({ transcription: result.data, etag: result.response.headers.get('etag') });
      return true;
    }
    if (result.response.status === 412) {
      await reload();
      setError(t('tr.conflict'));
    } else setError(problemText(result.error));
    return false;
  };

  return (
    <section aria-labelledby="transcript-heading">
      <h2 id="transcript-heading">{t('tr.heading')}</h2>
      {recording.kind === 'audio' && (
        <div class="player card">
          <audio
            ref={player}
            controls
            preload="metadata"
            aria-label={t('tr.player')}
            src={audioUrl ?? undefined}
            onTimeUpdate={(e) => setTime(e.currentTarget.currentTime)}
            onSeeked={(e) => setTime(e.currentTarget.currentTime)}
            onLoadedMetadata={(e) => {
              if (at !== null) e.currentTarget.currentTime = at;
            }}
          />
        </div>
      )}
      <div class="card exports" role="group" aria-label={t('tr.export')}>
        <span>{t('tr.export')}:</span>
        {FORMATS.map(({ format, ext }) => (
          <button
            key={format}
            type="button"
            class="small"
            onClick={() => void download(transcription.id, format, `${recording.title}.${ext}`).catch((e: unknown) => setError(problemText(e)))}
          >
            {format}
          </button>
        ))}
      </div>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      <ol class="segments card">
        {transcription.segments.map((segment, i) => (
          <SegmentRow key={segment.id} segment={segment} current={i === current} onSeek={seek} onSave={save} />
        ))}
      </ol>
      <SpeakersEditor
        transcription={transcription}
        etag={loaded.etag}
        onSaved={(saved, etag) => onChange({ transcription: saved, etag })}
        onConflict={reload}
      />
      <Versions transcriptionId={transcription.id} current={transcription.version} onReverted={() => void reload()} />
      <SummaryPanel recordingId={recording.id} segments={transcription.segments} onCite={cite} />
      <ChatPanel transcriptionId={transcription.id} segments={transcription.segments} onCite={cite} />
    </section>
  );
}
