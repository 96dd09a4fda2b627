import { asc, desc, eq } from 'drizzle-orm';
import type { Static } from 'typebox';
import type { AppDatabase, Tx } from '../db/client.js';
import { newId } from '../db/ids.js';
import { recordings, transcriptSegments, transcriptions } from '../db/schema.js';
import { withUser } from '../db/scope.js';
import { errors } from '../http/errors.js';
import type { Transcription } from './schemas.js';
import { splitSentences } from './sentences.js';

export type TranscriptionView = Static<typeof Transcription>;
type TranscriptionRow = typeof transcriptions.$inferSelect;
type SegmentRow = typeof transcriptSegments.$inferSelect;

export function toTranscriptionView(row: TranscriptionRow, segments: SegmentRow[]): TranscriptionView {
  return {
    id: row.id,
    recording_id: row.recordingId,
    engine: row.engine,
    model: row.model,
    language: row.language,
    status: row.status as TranscriptionView['status'],
    progress: row.progress,
    text: row.text,
    error: row.error,
    duration_seconds: row.durationSeconds,
    created_at: row.createdAt.toISOString(),
    started_at: row.startedAt?.toISOString() ?? null,
    completed_at: row.completedAt?.toISOString() ?? null,
    segments: segments.map((s) => ({
      id: s.id,
      index: s.index,
      start: s.start,
      end: s.end,
      text: s.text,
      words: s.words,
      speaker: s.speaker,
    })),
  };
}

export class TranscriptionService {
  constructor(private readonly db: AppDatabase) {}

  /**
   * A transcript the user already has as text: stored completed, one segment per sentence.
   * Runs inside the caller's transaction so the recording and its transcript land together.
   */
  async insertFromText(
    tx: Tx,
    input: { userId: string; recordingId: string; text: string; language: string | null },
  ): Promise<TranscriptionView> {
    const now = new Date();
    const [row] = await tx
      .insert(transcriptions)
      .values({
        id: newId(),
        userId: input.userId,
        recordingId: input.recordingId,
        engine: 'text',
        language: input.language,
        status: 'completed',
        progress: 100,
        text: input.text,
        startedAt: now,
        completedAt: now,
      })
      .returning();
    const segments = await insertSegments(
      tx,
      splitSentences(input.text, input.language).map((text, index) => ({
        id: newId(),
        userId: input.userId,
        transcriptionId: row!.id,
        index,
        text,
      })),
    );
    return toTranscriptionView(row!, segments);
  }

  async latestForRecording(userId: string, recordingId: string): Promise<TranscriptionView> {
    return withUser(this.db, userId, async (tx) => {
      const [recording] = await tx.select({ id: recordings.id }).from(recordings).where(eq(recordings.id, recordingId));
      if (!recording) throw errors.notFound('Recording');
      const [row] = await tx
        .select()
        .from(transcriptions)
        .where(eq(transcriptions.recordingId, recordingId))
        .orderBy(desc(transcriptions.id))
        .limit(1);
      if (!row) throw errors.notFound('Transcription');
      return toTranscriptionView(row, await segmentsOf(tx, row.id));
    });
  }

  async get(userId: string, transcriptionId: string): Promise<TranscriptionView> {
    return withUser(this.db, userId, async (tx) => {
      const [row] = await tx.select().from(transcriptions).where(eq(transcriptions.id, transcriptionId));
      if (!row) throw errors.notFound('Transcription');
      return toTranscriptionView(row, await segmentsOf(tx, row.id));
    });
  }

  /** Whether the user can see this transcription; RLS answers for other users' ids. */
  async exists(tx: Tx, transcriptionId: string): Promise<boolean> {
    const [row] = await tx
      .select({ id: transcriptions.id })
      .from(transcriptions)
      .where(eq(transcriptions.id, transcriptionId));
    return row !== undefined;
  }
}

// Postgres takes at most 65,535 parameters per statement; a long transcript has many segments.
const SEGMENT_BATCH = 1_000;

export async function insertSegments(
  tx: Tx,
  rows: (typeof transcriptSegments.$inferInsert)[],
): Promise<SegmentRow[]> {
  const inserted: SegmentRow[] = [];
  for (let i = 0; i < rows.length; i += SEGMENT_BATCH) {
    inserted.push(...(await tx.insert(transcriptSegments).values(rows.slice(i, i + SEGMENT_BATCH)).returning()));
  }
  return inserted;
}

function segmentsOf(tx: Tx, transcriptionId: string): Promise<SegmentRow[]> {
  return tx
    .select()
    .from(transcriptSegments)
    .where(eq(transcriptSegments.transcriptionId, transcriptionId))
    .orderBy(asc(transcriptSegments.index));
}
