/**
 * What other features may read of a transcript: the transcription feature owns `transcriptions`,
 * `recordings`' transcript side and `transcript_segments`, and answers here. Every read runs in
 * the caller's transaction (a `withUser` one), so row-level security decides what is visible.
 */

import { and, asc, desc, eq, sql } from 'drizzle-orm';
import { queryRows, type Tx } from '../db/client.js';
import { recordings, transcriptSegments, transcriptions } from '../db/schema.js';
import { AppError, errors } from '../http/errors.js';

/** One segment as chat answers and summaries cite it. */
export interface TranscriptSegmentRead {
  id: string;
  index: number;
  start: number | null;
  end: number | null;
  text: string;
  speaker: string | null;
}

/** A completed transcript with what a prompt about it needs. */
export interface TranscriptForGrounding {
  transcriptionId: string;
  recordingId: string;
  /** The recording's title. */
  title: string;
  language: string | null;
  /** In transcript order. */
  segments: TranscriptSegmentRead[];
}

function segmentsFor(tx: Tx, transcriptionId: string): Promise<TranscriptSegmentRead[]> {
  return tx
    .select({
      id: transcriptSegments.id,
      index: transcriptSegments.index,
      start: transcriptSegments.start,
      end: transcriptSegments.end,
      text: transcriptSegments.text,
      speaker: transcriptSegments.speaker,
    })
    .from(transcriptSegments)
    .where(eq(transcriptSegments.transcriptionId, transcriptionId))
    .orderBy(asc(transcriptSegments.index));
}

function notReady(status: string): AppError {
  return new AppError('transcription_not_ready', `The transcription is ${status}; ask again once it is completed`);
}

export class TranscriptReader {
  /** Whether the caller can see this transcription; RLS answers for other users' ids. */
  async exists(tx: Tx, transcriptionId: string): Promise<boolean> {
    const [row] = await tx.select({ id: transcriptions.id }).from(transcriptions).where(eq(transcriptions.id, transcriptionId));
    return row !== undefined;
  }

  /** A completed transcript; 404 when invisible to the caller, 409 transcription_not_ready when not done. */
  async forGrounding(tx: Tx, transcriptionId: string): Promise<TranscriptForGrounding> {
    const [row] = await tx
      .select({
        status: transcriptions.status,
        language: transcriptions.language,
        recordingId: transcriptions.recordingId,
        title: recordings.title,
      })
      .from(transcriptions)
      .innerJoin(recordings, eq(recordings.id, transcriptions.recordingId))
      .where(eq(transcriptions.id, transcriptionId));
    if (!row) throw errors.notFound('Transcription');
    if (row.status !== 'completed') throw notReady(row.status);
    const segments = await segmentsFor(tx, transcriptionId);
    return { transcriptionId, recordingId: row.recordingId, title: row.title, language: row.language, segments };
  }

  /**
   * A recording's latest completed transcript; 404 when the recording is invisible, 409
   * transcription_not_ready when it has none yet.
   */
  async latestCompletedOf(tx: Tx, recordingId: string): Promise<TranscriptForGrounding> {
    const [recording] = await tx.select({ title: recordings.title }).from(recordings).where(eq(recordings.id, recordingId));
    if (!recording) throw errors.notFound('Recording');
    const [row] = await tx
      .select({ id: transcriptions.id, language: transcriptions.language })
      .from(transcriptions)
      .where(and(eq(transcriptions.recordingId, recordingId), eq(transcriptions.status, 'completed')))
      .orderBy(desc(transcriptions.id))
      .limit(1);
    if (!row) throw new AppError('transcription_not_ready', 'The recording has no completed transcription yet');
    const segments = await segmentsFor(tx, row.id);
    return { transcriptionId: row.id, recordingId, title: recording.title, language: row.language, segments };
  }

  /**
   * Postgres full-text rank of a transcript's segments for a question, by segment index; any of
   * the question's terms may match (`&` turned to `|`). Only matching segments are in the map.
   */
  async rankSegments(tx: Tx, transcriptionId: string, question: string): Promise<Map<number, number>> {
    const rows = await queryRows<{ index: number; rank: number }>(
      tx,
      sql`select s.index, ts_rank(s.search_vector, q)::float8 as rank
          from transcript_segments s
          cross join lateral (select nullif(replace(plainto_tsquery(s.search_config, ${question})::text, '&', '|'), '')::tsquery as q) t
          where s.transcription_id = ${transcriptionId} and q is not null and s.search_vector @@ q`,
    );
    return new Map(rows.map((r) => [r.index, Number(r.rank)]));
  }

  /**
   * The segments of the caller's transcripts (each recording's latest completed one) that best
   * match a question, any of its terms (as rankSegments), best first; RLS keeps them the caller's.
   */
  async rankAcross(tx: Tx, question: string, limit: number): Promise<Array<TranscriptSegmentRead & { recordingId: string; title: string }>> {
    const rows = await queryRows<TranscriptSegmentRead & { recordingId: string; title: string }>(
      tx,
      sql`select s.id, s.index, s.start_seconds as "start", s.end_seconds as "end", s.text, s.speaker,
                 r.id as "recordingId", r.title
          from transcript_segments s
          join transcriptions t on t.id = s.transcription_id and t.status = 'completed'
          join recordings r on r.id = t.recording_id
          cross join lateral (select nullif(replace(plainto_tsquery(s.search_config, ${question})::text, '&', '|'), '')::tsquery as q) x
          where x.q is not null and s.search_vector @@ x.q
            and not exists (select 1 from transcriptions later
                            where later.recording_id = t.recording_id and later.status = 'completed' and later.id > t.id)
          order by ts_rank(s.search_vector, x.q) desc, s.id
          limit ${limit}`,
    );
    return rows;
  }
}
