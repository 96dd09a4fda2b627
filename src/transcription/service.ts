import { desc, eq, getTableColumns } from 'drizzle-orm';
import type { AppDatabase, Tx } from '../db/client.js';
import { newId } from '../db/ids.js';
import { recordings, transcriptions, type WordTiming } from '../db/schema.js';
import { withUser } from '../db/scope.js';
import type { VadSettings } from '../vad/settings.js';
import { AppError, errors } from '../http/errors.js';
import type { EngineName, SttConfig } from '../config.js';
import type { JobQueue } from '../jobs/queue.js';
import type { JobService } from '../jobs/service.js';
import { searchConfigFor } from './search-config.js';
import { splitSpokenSentences } from './sentences.js';
import { redactTranscription } from './redacted.js';
import { sensitiveTerms } from '../privacy/terms.js';
import type { SpeakerHints } from './engines/engine.js';
import { isDiarizingModel } from './engines/openai-diarized.js';
import { checkSpeakerHints } from './speaker-hints.js';
import { insertSegments, segmentsOf } from './segment-store.js';
import { toTranscriptionView, type TranscriptionRow, type TranscriptionView } from './view.js';

const { text: _text, ...COLUMNS_BUT_TEXT } = getTableColumns(transcriptions);

export interface TranscriptionRequest {
  engine?: EngineName;
  model?: string;
  language?: string;
  prompt?: string;
  word_timestamps: boolean;
  /** Cut silence before the engine (Silero VAD), times mapped back; null or absent: the whole audio. */
  vad?: VadSettings | null;
  /** Known speakers for a diarizing openai model: names paired by position with data-URL samples. */
  known_speaker_names?: string[];
  known_speaker_references?: string[];
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
    const speakerHints = this.checkRequest(engine, input);
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
          vad: input.vad ?? null,
          speakerHints,
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

  /** What can be refused before anything is stored; returns the speaker hints as the job will pass them. */
  private checkRequest(engine: EngineName, input: TranscriptionRequest): SpeakerHints | null {
    const { language, model } = input;
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
    const { hints, problems } = checkSpeakerHints(input.known_speaker_names, input.known_speaker_references, {
      names: 'known_speaker_names',
      references: 'known_speaker_references',
    });
    if (problems.length > 0) {
      throw new AppError('validation_failed', `Invalid known speakers: ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}`, problems);
    }
    const diarizing = engine === 'openai' && isDiarizingModel(model ?? this.runtime.stt.openai.model, this.runtime.stt.openai);
    if (hints && !diarizing) {
      throw new AppError(
        'speaker_hints_not_supported',
        `Known speakers need the openai engine with a diarizing model (a name with "diarize", or one in STT_DIARIZE_MODELS); ` +
          `this request would use ${engine}${engine === 'openai' ? ` with ${model ?? this.runtime.stt.openai.model}` : ''}`,
      );
    }
    return hints;
  }

  /**
   * A transcript the user already has as text: stored completed, one segment per sentence, with
   * its speaker where lines start with `Name:` (the text keeps the labels as uploaded).
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
      // Not the text itself: reading megabytes back would only hold the event loop to decode them.
      .returning(COLUMNS_BUT_TEXT);
    const sentences = await splitSpokenSentences(input.text, input.language);
    const segments = await insertSegments(
      tx,
      sentences.map(({ text, speaker }, index) => ({
        userId: input.userId,
        transcriptionId: row!.id,
        index,
        text,
        speaker,
        searchConfig: searchConfigFor(input.language),
      })),
    );
    return toTranscriptionView({ ...row!, text: input.text }, segments);
  }

  /**
   * A transcript made outside the job queue (a live session's turns): stored completed with the
   * given segments, in the caller's transaction. Empty segments are dropped; the text joins the rest.
   */
  async insertCompleted(
    tx: Tx,
    input: {
      userId: string;
      recordingId: string;
      engine: EngineName;
      model: string | null;
      language: string | null;
      durationSeconds: number | null;
      startedAt: Date;
      segments: Array<{ start: number; end: number; text: string; words?: WordTiming[] | null }>;
    },
  ): Promise<TranscriptionView> {
    const kept = input.segments.map((s) => ({ ...s, text: s.text.trim() })).filter((s) => s.text !== '');
    const text = kept.map((s) => s.text).join(' ');
    const [row] = await tx
      .insert(transcriptions)
      .values({
        id: newId(),
        userId: input.userId,
        recordingId: input.recordingId,
        engine: input.engine,
        model: input.model,
        language: input.language,
        status: 'completed',
        progress: 100,
        text,
        durationSeconds: input.durationSeconds,
        startedAt: input.startedAt,
        completedAt: new Date(),
      })
      .returning(COLUMNS_BUT_TEXT);
    const segments = await insertSegments(
      tx,
      kept.map((s, index) => ({
        userId: input.userId,
        transcriptionId: row!.id,
        index,
        start: s.start,
        end: s.end,
        text: s.text,
        words: s.words ?? null,
        searchConfig: searchConfigFor(input.language),
      })),
    );
    return toTranscriptionView({ ...row!, text }, segments);
  }

  /** `redact`: a copy with personal data and the user's sensitive terms replaced (see redacted.ts). */
  async latestForRecording(userId: string, recordingId: string, options: { redact?: boolean } = {}): Promise<TranscriptionView> {
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
      return viewOf(tx, row, options);
    });
  }

  async get(userId: string, transcriptionId: string, options: { redact?: boolean } = {}): Promise<TranscriptionView> {
    return withUser(this.db, userId, async (tx) => {
      const [row] = await tx.select().from(transcriptions).where(eq(transcriptions.id, transcriptionId));
      if (!row) throw errors.notFound('Transcription');
      return viewOf(tx, row, options);
    });
  }
}

async function viewOf(tx: Tx, row: TranscriptionRow, options: { redact?: boolean }): Promise<TranscriptionView> {
  const view = toTranscriptionView(row, await segmentsOf(tx, row.id));
  return options.redact ? redactTranscription(view, await sensitiveTerms(tx)) : view;
}
