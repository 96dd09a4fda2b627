import { sql } from 'drizzle-orm';
import type { AppDatabase } from '../db/client.js';
import { queryRows } from '../db/client.js';
import { withUser } from '../db/scope.js';

export interface SearchHit {
  recording_id: string;
  recording_title: string;
  transcription_id: string;
  segment_id: string;
  index: number;
  start: number | null;
  end: number | null;
  text: string;
  speaker: string | null;
  snippet: string;
  rank: number;
}

// Control characters cannot occur in transcripts we store, so they mark matches safely until the
// snippet has been HTML-escaped.
const OPEN = '\u0001';
const CLOSE = '\u0002';

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** HTML-escaped snippet with matches wrapped in <mark>: safe to render as HTML. */
export function markSnippet(headline: string): string {
  return escapeHtml(headline).split(OPEN).join('<mark>').split(CLOSE).join('</mark>');
}

interface Row {
  recording_id: string;
  recording_title: string;
  transcription_id: string;
  segment_id: string;
  index: number;
  start_seconds: number | null;
  end_seconds: number | null;
  text: string;
  speaker: string | null;
  headline: string;
  rank: number;
}

export class SearchService {
  constructor(private readonly db: AppDatabase) {}

  /**
   * Full-text search over the caller's completed transcripts, each segment matched with its own
   * language's configuration (stemming "reuniones" to "reunion" in Spanish, "meetings" to "meet"
   * in English). Web-search syntax: quoted phrases, OR, -excluded.
   */
  search(userId: string, query: string, limit: number, offset: number): Promise<SearchHit[]> {
    return withUser(this.db, userId, async (tx) => {
      const rows = await queryRows<Row>(
        tx,
        sql`select r.id as recording_id, r.title as recording_title, t.id as transcription_id,
                   s.id as segment_id, s.index, s.start_seconds, s.end_seconds, s.text, s.speaker,
                   ts_headline(s.search_config, s.text, q,
                     ${`StartSel=${OPEN}, StopSel=${CLOSE}, MaxWords=30, MinWords=8, MaxFragments=2, FragmentDelimiter=" … "`}) as headline,
                   ts_rank_cd(s.search_vector, q)::float8 as rank
            from transcript_segments s
            join transcriptions t on t.id = s.transcription_id and t.status = 'completed'
            join recordings r on r.id = t.recording_id
            cross join lateral websearch_to_tsquery(s.search_config, ${query}) q
            where s.search_vector @@ q
            order by rank desc, s.id
            limit ${limit} offset ${offset}`,
      );
      return rows.map((row) => ({
        recording_id: row.recording_id,
        recording_title: row.recording_title,
        transcription_id: row.transcription_id,
        segment_id: row.segment_id,
        index: row.index,
        start: row.start_seconds,
        end: row.end_seconds,
        text: row.text,
        speaker: row.speaker,
        snippet: markSnippet(row.headline),
        rank: Number(row.rank),
      }));
    });
  }
}
