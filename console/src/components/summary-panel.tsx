import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, problemText, unwrap } from '../api/client';
import type { paths } from '../api/schema';
import { useI18n } from '../i18n';
import { CitedText, CiteLink, type CiteTarget } from './citations';

type Summary = paths['/api/v1/audio/{id}/summary']['get']['responses'][200]['content']['application/json'];
type Segments = ReadonlyArray<{ id: string; index: number; start: number | null }>;

/** Links to the segments a point cites, by their index in the transcript. */
function PointLinks(props: { indexes: number[]; segments: Segments; onCite: (target: CiteTarget) => void }) {
  const byIndex = new Map(props.segments.map((s) => [s.index, s]));
  return (
    <>
      {props.indexes.map((n) => {
        const segment = byIndex.get(n);
        return (
          <Fragment key={n}>
            {' '}
            <CiteLink n={n} target={segment && { segmentId: segment.id, start: segment.start }} onCite={props.onCite} />
          </Fragment>
        );
      })}
    </>
  );
}

/** The recording's stored summary, or a button to make one; key points and action items link to their segments. */
export function SummaryPanel(props: { recordingId: string; segments: Segments; onCite: (target: CiteTarget) => void }) {
  const { recordingId, segments, onCite } = props;
  const { t } = useI18n();
  const [summary, setSummary] = useState<Summary | null>(null);
  const [missing, setMissing] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  // Read when first opened: most visits never look, and need no request (nor its 404).
  const [open, setOpen] = useState(false);

  useEffect(() => {
    if (!open) return;
    let live = true;
    void api.GET('/api/v1/audio/{id}/summary', { params: { path: { id: recordingId } } }).then((result) => {
      if (!live) return;
      if (result.data) setSummary(result.data);
      else if (result.response.status === 404) setMissing(true);
      else setError(problemText(result.error));
    });
    return () => {
      live = false;
    };
  }, [recordingId, open]);

  const make = async (refresh: boolean) => {
    setBusy(true);
    setError(null);
    try {
      const made = unwrap(
        await api.POST('/api/v1/audio/{id}/summary', { params: { path: { id: recordingId }, query: refresh ? { refresh: true } : {} }, body: null }),
      );
      setSummary(made);
      setMissing(false);
    } catch (e) {
      setError(problemText(e));
    } finally {
      setBusy(false);
    }
  };

  const byIndex = new Map(segments.map((s) => [s.index, { segmentId: s.id, start: s.start }]));
  return (
    <details class="card summary" aria-busy={busy ? 'true' : 'false'} onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary>{t('summary.heading')}</summary>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {missing && !summary && (
        <button type="button" disabled={busy} onClick={() => void make(false)}>
          {busy ? t('summary.making') : t('summary.make')}
        </button>
      )}
      {summary && (
        <>
          {summary.stale && (
            <p class="stale">
              {t('summary.stale')}{' '}
              <button type="button" class="small" disabled={busy} onClick={() => void make(true)}>
                {t('summary.refresh')}
              </button>
            </p>
          )}
          <p class="summary-text">
            <CitedText content={summary.summary} targets={byIndex} onCite={onCite} />
          </p>
          {summary.key_points.length > 0 && (
            <>
              <h4>{t('summary.keyPoints')}</h4>
              <ul class="key-points">
                {summary.key_points.map((point, i) => (
                  <li key={i}>
                    {point.text}
                    <PointLinks indexes={point.segments} segments={segments} onCite={onCite} />
                  </li>
                ))}
              </ul>
            </>
          )}
          {summary.action_items.length > 0 && (
            <>
              <h4>{t('summary.actionItems')}</h4>
              <ul class="action-items">
                {summary.action_items.map((item, i) => (
                  <li key={i}>
                    {item.owner && <strong>{item.owner}: </strong>}
                    {item.text}
                    <PointLinks indexes={item.segments} segments={segments} onCite={onCite} />
                  </li>
                ))}
              </ul>
            </>
          )}
        </>
      )}
    </details>
  );
}
