import { useEffect, useState } from 'preact/hooks';
import { api, unwrap, problemText } from '../api/client';
import type { Recording, SearchHit } from '../api/types';
import { clock } from '../format';
import { useI18n } from '../i18n';
import { ChatAcross } from './chat-all';
import { UploadPanel } from './upload';

const PAGE = 20;

function Search({ onResults }: { onResults: (q: string | null, hits: SearchHit[]) => void }) {
  const { t } = useI18n();
  const [q, setQ] = useState('');
  const [error, setError] = useState<string | null>(null);
  const run = async (event: Event) => {
    event.preventDefault();
    setError(null);
    const query = q.trim();
    if (!query) return onResults(null, []);
    try {
      const data = unwrap(await api.GET('/api/v1/search', { params: { query: { q: query, limit: 50 } } }));
      onResults(query, data.items);
    } catch (e) {
      setError(problemText(e));
    }
  };
  return (
    <form role="search" class="search" onSubmit={(e) => void run(e)}>
      <label>
        {t('list.search')}
        <input type="search" name="q" value={q} onInput={(e) => setQ(e.currentTarget.value)} />
      </label>
      <button type="submit">{t('list.searchButton')}</button>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
    </form>
  );
}

function SearchResults({ q, hits, onClear }: { q: string; hits: SearchHit[]; onClear: () => void }) {
  const { t } = useI18n();
  return (
    <section aria-labelledby="results-heading" class="card">
      <h2 id="results-heading">{t('list.results')}</h2>
      {hits.length === 0 && <p>{t('list.noResults', { q })}</p>}
      <ul class="hits">
        {hits.map((hit) => (
          <li key={hit.segment_id}>
            <a href={`#/recordings/${hit.recording_id}${hit.start === null ? '' : `?t=${hit.start}`}`}>
              <strong>{hit.recording_title}</strong> <span class="time">{clock(hit.start)}</span>
            </a>
            {/* The API escapes the snippet's text and adds only <mark> tags. */}
            <p class="snippet" dangerouslySetInnerHTML={{ __html: hit.snippet }} />
          </li>
        ))}
      </ul>
      <button type="button" onClick={onClear}>
        {t('list.clearSearch')}
      </button>
    </section>
  );
}

export function RecordingsScreen() {
  const { t } = useI18n();
  const [items, setItems] = useState<Recording[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [search, setSearch] = useState<{ q: string; hits: SearchHit[] } | null>(null);

  const load = async (after: string | null) => {
    setLoading(true);
    try {
      const query = after ? { limit: PAGE, cursor: after } : { limit: PAGE };
      const page = unwrap(await api.GET('/api/v1/audio', { params: { query } }));
      setItems((previous) => (after ? [...previous, ...page.items] : page.items));
      setCursor(page.next_cursor);
      setError(null);
    } catch (e) {
      setError(problemText(e));
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => void load(null), []);

  return (
    <>
      <h1 class="visually-hidden">{t('app.title')}</h1>
      <UploadPanel />
      <Search onResults={(q, hits) => setSearch(q === null ? null : { q, hits })} />
      {search && <SearchResults q={search.q} hits={search.hits} onClear={() => setSearch(null)} />}
      <ChatAcross />
      <section aria-labelledby="list-heading" class="card">
        <h2 id="list-heading">{t('list.heading')}</h2>
        {error && (
          <p role="alert" class="error">
            {t('common.error', { detail: error })}
          </p>
        )}
        {!loading && items.length === 0 && !error && <p>{t('list.empty')}</p>}
        <ul class="recordings">
          {items.map((item) => (
            <li key={item.id} data-source={item.source}>
              <a href={`#/recordings/${item.id}`}>{item.title}</a>{' '}
              {item.source === 'realtime' && <span class="source-tag">{t('app.live')}</span>}{' '}
              <span class="meta">
                {item.kind === 'text' ? t('list.kindText') : t('list.kindAudio')} · {t('list.duration')} {clock(item.duration_seconds)} ·{' '}
                {t('list.created')} {new Date(item.created_at).toLocaleString()}
              </span>
            </li>
          ))}
        </ul>
        {loading && <p aria-live="polite">{t('common.loading')}</p>}
        {cursor && !loading && (
          <button type="button" onClick={() => void load(cursor)}>
            {t('list.more')}
          </button>
        )}
      </section>
    </>
  );
}
