import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { eq, sql } from 'drizzle-orm';
import type { EngineName } from '../config.js';
import type { AppDatabase, Tx } from '../db/client.js';
import { newId } from '../db/ids.js';
import { recordings, transcriptions } from '../db/schema.js';
import { asSystem } from '../db/scope.js';
import { decodeToWav } from '../audio/decode.js';
import { JOB_TEMP, ownedPrefix } from '../process/leftovers.js';
import type { JobHandler, JobRow, JobSettlement, JobSuccess, JobContext } from '../jobs/types.js';
import { PermanentJobError } from '../jobs/types.js';
import type { TranscriptionMetrics } from '../metrics/metrics.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { EngineResult, TranscribeOptions } from './engines/engine.js';
import type { EngineSet } from './engines/index.js';
import { searchConfigFor } from './search-config.js';
import { transcribeSpeechOnly } from './speech-only.js';
import { insertSegments } from './segment-store.js';
import { enqueueEvent } from '../webhooks/service.js';

export interface TranscriptionPayload {
  transcriptionId: string;
}

export interface TranscriptionJobDeps {
  db: AppDatabase;
  blobStore: BlobStore;
  engines: EngineSet;
  ffmpeg: () => Promise<string>;
  maxAttempts: number;
  /** MAX_AUDIO_DURATION_SECONDS: the decode stops there and the job fails with audio_too_long. */
  maxAudioSeconds: number;
  tempDir?: string;
  metrics?: TranscriptionMetrics;
}

/** Share of the progress bar spent fetching and decoding before the engine starts. */
const DECODE_SHARE = 5;

/** Runs one transcription: fetch the blob, decode it, run the engine, store segments once. */
export class TranscriptionJob implements JobHandler<TranscriptionPayload> {
  readonly type = 'transcription' as const;
  readonly version = 1;
  readonly maxAttempts: number;

  constructor(private readonly deps: TranscriptionJobDeps) {
    this.maxAttempts = deps.maxAttempts;
  }

  parse(payload: Record<string, unknown>): TranscriptionPayload {
    const id = payload.transcription_id;
    if (typeof id !== 'string') throw new PermanentJobError('The job names no transcription', 'invalid_payload');
    return { transcriptionId: id };
  }

  async run(context: JobContext<TranscriptionPayload>): Promise<JobSuccess> {
    const { payload, signal } = context;
    const progress = (percent: number) => context.progress(percent);
    const { db } = this.deps;
    const target = await asSystem(db, 'a worker loads the transcription it runs', async (tx) => {
      const [row] = await tx
        .select({ transcription: transcriptions, blobKey: recordings.blobKey })
        .from(transcriptions)
        .innerJoin(recordings, eq(recordings.id, transcriptions.recordingId))
        .where(eq(transcriptions.id, payload.transcriptionId));
      if (!row) return null;
      await tx
        .update(transcriptions)
        .set({ status: 'processing', startedAt: sql`coalesce(${transcriptions.startedAt}, now())`, error: null })
        .where(eq(transcriptions.id, payload.transcriptionId));
      return row;
    });
    if (!target) throw new PermanentJobError('The recording was deleted before it was transcribed', 'recording_deleted');
    if (!target.blobKey) throw new PermanentJobError('The recording has no audio', 'recording_has_no_audio');
    const t = target.transcription;
    const engine = this.deps.engines.get(t.engine as EngineName);

    // Named with our pid: if this process dies mid-job, the next start knows the folder is garbage.
    const work = await mkdtemp(path.join(this.deps.tempDir ?? tmpdir(), ownedPrefix(JOB_TEMP)));
    try {
      const source = path.join(work, 'source');
      const blob = await this.deps.blobStore.get(target.blobKey);
      await pipeline(blob.stream, createWriteStream(source), { signal });
      progress(2);
      await mkdir(work, { recursive: true });
      // Uploads are only checked from their headers, so this is the first full decode; a file that
      // fails it fails permanently (classifyFailure: audio_undecodable), and one whose header lied
      // about its length stops at the limit (audio_too_long), so the folder holds at most the
      // source and maxAudioSeconds of 16 kHz PCM.
      const audio = await decodeToWav(await this.deps.ffmpeg(), source, work, { signal, maxSeconds: this.deps.maxAudioSeconds });
      progress(DECODE_SHARE);
      const options: TranscribeOptions = {
        language: t.language ?? undefined,
        prompt: t.prompt ?? undefined,
        wordTimestamps: t.wordTimestamps,
        model: t.model ?? undefined,
        ...(t.speakerHints ? { speakerHints: t.speakerHints } : {}),
        signal,
        onProgress: (percent) => progress(DECODE_SHARE + (percent * (99 - DECODE_SHARE)) / 100),
        onSegment: (segment) =>
          context.partial({
            start: segment.start,
            end: segment.end,
            text: segment.text.trim(),
            ...(segment.speaker ? { speaker: segment.speaker } : {}),
          }),
      };
      let result: EngineResult;
      if (t.vad) {
        // Only the speech reaches the engine; the metric counts the audio it was given.
        const run = await transcribeSpeechOnly(engine, audio, t.vad, work, options);
        result = run.result;
        if (run.engineAudioSeconds > 0) this.deps.metrics?.transcribed(t.engine, run.engineAudioSeconds, run.engineSeconds);
      } else {
        const engineStarted = performance.now();
        result = await engine.transcribe(audio, options);
        this.deps.metrics?.transcribed(t.engine, audio.durationSeconds, (performance.now() - engineStarted) / 1000);
      }
      return {
        result: { transcription_id: t.id, recording_id: t.recordingId },
        commit: async (tx) => {
          await this.store(tx, t.id, t.userId, t.recordingId, result, audio.durationSeconds);
          await enqueueEvent(tx, t.userId, 'transcription.completed', { transcription_id: t.id, recording_id: t.recordingId });
        },
      };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  /**
   * Replaces whatever an earlier attempt may have left, so the result is written exactly once. The
   * recording's duration becomes the decoded one: at upload it was read from the container header,
   * which a file can misstate.
   */
  private async store(
    tx: Tx,
    transcriptionId: string,
    userId: string,
    recordingId: string,
    result: EngineResult,
    decodedSeconds: number,
  ) {
    await tx.execute(sql`delete from transcript_segments where transcription_id = ${transcriptionId}`);
    const segments = result.segments.filter((s) => s.text.trim() !== '');
    await insertSegments(
      tx,
      segments.map((s, index) => ({
        id: newId(),
        userId,
        transcriptionId,
        index,
        start: s.start,
        end: s.end,
        text: s.text.trim(),
        words: s.words ?? null,
        speaker: s.speaker ?? null,
        avgLogprob: s.avgLogprob ?? null,
        compressionRatio: s.compressionRatio ?? null,
        noSpeechProb: s.noSpeechProb ?? null,
        temperature: s.temperature ?? null,
        searchConfig: searchConfigFor(result.language),
      })),
    );
    await tx
      .update(transcriptions)
      .set({
        status: 'completed',
        progress: 100,
        text: segments.map((s) => s.text.trim()).join(' '),
        language: result.language,
        model: result.model,
        durationSeconds: result.duration,
        error: null,
        errorCode: null,
        completedAt: new Date(),
        // The voice samples served their one run; the names stay as a record of what was asked.
        speakerHints: sql`case when ${transcriptions.speakerHints} is null then null
                            else jsonb_set(${transcriptions.speakerHints}, '{references}', '[]'::jsonb) end`,
      })
      .where(eq(transcriptions.id, transcriptionId));
    await tx
      .update(recordings)
      .set({ durationSeconds: decodedSeconds })
      .where(eq(recordings.id, recordingId));
  }

  async onProgress(tx: Tx, job: JobRow, percent: number): Promise<void> {
    const { transcriptionId } = this.parse(job.payload);
    await tx
      .update(transcriptions)
      .set({ progress: percent })
      .where(sql`${transcriptions.id} = ${transcriptionId} and ${transcriptions.status} = 'processing'`);
  }

  async onSettled(tx: Tx, job: JobRow, settlement: JobSettlement): Promise<void> {
    const { transcriptionId } = this.parse(job.payload);
    switch (settlement.status) {
      case 'failed':
        await tx
          .update(transcriptions)
          .set({ status: 'failed', error: settlement.error, errorCode: settlement.code, completedAt: new Date() })
          .where(eq(transcriptions.id, transcriptionId));
        await enqueueEvent(tx, job.userId, 'transcription.failed', {
          transcription_id: transcriptionId,
          error: settlement.error,
          code: settlement.code,
        });
        return;
      case 'cancelled':
        await tx
          .update(transcriptions)
          .set({ status: 'cancelled', completedAt: new Date() })
          .where(eq(transcriptions.id, transcriptionId));
        return;
      case 'retrying':
        await tx
          .update(transcriptions)
          .set({ status: 'queued', error: `Attempt ${settlement.attempt} failed (${settlement.error}); retrying` })
          .where(eq(transcriptions.id, transcriptionId));
        return;
    }
  }
}
