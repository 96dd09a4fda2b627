import { asc, desc, eq } from 'drizzle-orm';
import type { Static } from 'typebox';
import type { AppDatabase, Tx } from '../db/client.js';
import { newId } from '../db/ids.js';
import { recordings, transcriptSegments, transcriptions } from '../db/schema.js';
import { withUser } from '../db/scope.js';
import { AppError, errors } from '../http/errors.js';
import type { EngineName, SttConfig } from '../config.js';
import type { JobQueue } from '../jobs/queue.js';
import type { JobService } from '../jobs/service.js';
import type { Transcription } from './schemas.js';
import { searchConfigFor } from './search-config.js';
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
    error_code: row.errorCode,
    job_id: row.jobId,
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

export interface TranscriptionRequest {
  engine?: EngineName;
  model?: string;
  language?: string;
  prompt?: string;
  word_timestamps: boolean;
}

export interface TranscriptionRuntime {
  queue: JobQueue;
  jobs: JobService;
  stt: SttConfig;
  maxAttempts: number;
}

export class TranscriptionService {
  constructor(
    private readonly db: AppDatabase,
    private readonly runtime: TranscriptionRuntime,
  ) {}

  /** 503 with Retry-After when transcriptions could not be handed to workers now (Redis down). */
  assertQueueAvailable(): void {
    this.runtime.queue.assertAvailable();
  }

  /** Queues a transcription of a recording's audio; the job row commits with it. */
  async request(userId: string, recordingId: string, input: TranscriptionRequest): Promise<TranscriptionView> {
    this.assertQueueAvailable();
    const engine = input.engine ?? this.runtime.stt.defaultEngine;
    this.checkRequest(engine, input.language, input.model);
    const view = await withUser(this.db, userId, async (tx) => {
      const [recording] = await tx.select().from(recordings).where(eq(recordings.id, recordingId));
      if (!recording) throw errors.notFound('Recording');
      if (!recording.blobKey) {
        throw new AppError('recording_has_no_audio', 'This recording was uploaded as text; there is no audio to transcribe');
      }
      const jobId = newId();
      const [row] = await tx
        .insert(transcriptions)
        .values({
          id: newId(),
          userId,
          recordingId,
          engine,
          model: input.model ?? null,
          language: input.language ?? null,
          prompt: input.prompt ?? null,
          wordTimestamps: input.word_timestamps,
          status: 'queued',
          jobId: null,
        })
        .returning();
      await this.runtime.queue.enqueue(tx, {
        id: jobId,
        userId,
        type: 'transcription',
        payloadVersion: 1,
        payload: { transcription_id: row!.id },
        maxAttempts: this.runtime.maxAttempts,
      });
      const [linked] = await tx.update(transcriptions).set({ jobId }).where(eq(transcriptions.id, row!.id)).returning();
      return toTranscriptionView(linked!, []);
    });
    this.runtime.queue.wake();
    return view;
  }

  /** Waits up to `seconds` for a queued transcription to finish; returns its state either way. */
  async waitFor(userId: string, view: TranscriptionView, seconds: number): Promise<TranscriptionView> {
    if (seconds <= 0 || !view.job_id) return view;
    await this.runtime.jobs.waitUntilSettled(userId, view.job_id, seconds * 1000);
    return this.get(userId, view.id);
  }

  /** What can be refused before anything is stored. */
  private checkRequest(engine: EngineName, language: string | undefined, model: string | undefined): void {
    const whisper = this.runtime.stt.whisper;
    if (engine === 'whisper' && model !== undefined && model !== whisper.model && !whisper.allowedModels.includes(model)) {
      throw new AppError(
        'model_not_allowed',
        `The whisper model "${model}" is not enabled here; allowed: ${[...new Set([whisper.model, ...whisper.allowedModels])].join(', ')} (WHISPER_ALLOWED_MODELS)`,
      );
    }
    if (engine === 'sphinx' && language && !/^en(-|$)/i.test(language)) {
      throw new AppError(
        'language_not_supported',
        `The sphinx engine only understands English; "${language}" needs the whisper or openai engine`,
      );
    }
    if (engine === 'openai' && !this.runtime.stt.openai.apiKey && !this.runtime.stt.openai.baseUrl) {
      throw new AppError(
        'engine_not_configured',
        'The openai engine needs STT_API_KEY (or OPENAI_API_KEY) or STT_BASE_URL to be set',
      );
    }
  }

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
        searchConfig: searchConfigFor(input.language),
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
