import type { Static } from 'typebox';
import type { transcriptions, VersionSegment } from '../db/schema.js';
import { vadView } from '../vad/settings.js';
import type { Transcription } from './schemas.js';
import type { StoredSegment } from './segment-store.js';

export type TranscriptionView = Static<typeof Transcription>;
export type TranscriptionRow = typeof transcriptions.$inferSelect;

/** A transcription row and its segments as the API returns them. */
export function toTranscriptionView(row: TranscriptionRow, segments: StoredSegment[]): TranscriptionView {
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
    vad: vadView(row.vad),
    version: row.version,
    segments: segments.map(toSegmentView),
  };
}

/** A stored segment as the API returns it, and as a transcript version keeps it. */
export function toSegmentView(s: StoredSegment): VersionSegment {
  return {
    id: s.id,
    index: s.index,
    start: s.start,
    end: s.end,
    text: s.text,
    words: s.words,
    speaker: s.speaker,
    avg_logprob: s.avgLogprob,
    compression_ratio: s.compressionRatio,
    no_speech_prob: s.noSpeechProb,
    temperature: s.temperature,
  };
}
