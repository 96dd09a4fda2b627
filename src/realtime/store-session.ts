import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { EngineName } from '../config.js';
import type { WordTiming } from '../db/schema.js';
import type { RecordingService } from '../recordings/service.js';
import type { TranscriptionService } from '../transcription/service.js';
import { enqueueEvent } from '../webhooks/service.js';

/** One completed turn of a live session; times in seconds from the session's first sample. */
export interface RealtimeTurn {
  start: number;
  end: number;
  text: string;
  words?: WordTiming[];
}

export interface StoreSessionDeps {
  recordings: RecordingService;
  transcriptions: TranscriptionService;
}

export interface StoreSessionInput {
  userId: string;
  /** The id session.created announced as `recording_id`. */
  recordingId: string;
  /** 16 kHz mono PCM16 WAV of the whole session. Consumed: moved into storage, or removed. */
  wavPath: string;
  durationSeconds: number;
  /** Default: "Live session <start, ISO 8601>". */
  title?: string;
  language: string | null;
  engine: EngineName;
  model: string | null;
  turns: RealtimeTurn[];
  /** When the session began; default: durationSeconds before now. */
  startedAt?: Date;
}

/**
 * Keeps a finished live session like an upload that was transcribed: a recording (source
 * `realtime`, the WAV as its audio, hashed and measured as uploads are) and its completed
 * transcription with a segment per turn, committed together with the `transcription.completed`
 * webhook event. Searchable, exportable and chattable like any other transcript from then on.
 */
export async function storeRealtimeSession(
  deps: StoreSessionDeps,
  input: StoreSessionInput,
): Promise<{ recordingId: string; transcriptionId: string }> {
  const startedAt = input.startedAt ?? new Date(Date.now() - input.durationSeconds * 1000);
  const hash = createHash('sha256');
  await pipeline(createReadStream(input.wavPath), hash);
  const { size } = await stat(input.wavPath);
  const turns = [...input.turns].sort((a, b) => a.start - b.start);
  const { recording, also: transcription } = await deps.recordings.createAudioEntryWith(
    input.userId,
    {
      tempPath: input.wavPath,
      size,
      sha256: hash.digest('hex'),
      type: { mime: 'audio/wav', extension: 'wav' },
      durationSeconds: input.durationSeconds,
    },
    { title: input.title?.trim() || `Live session ${startedAt.toISOString()}`, language: input.language ?? undefined, source: 'realtime' },
    undefined,
    async (tx, recordingId) => {
      const view = await deps.transcriptions.insertCompleted(tx, {
        userId: input.userId,
        recordingId,
        engine: input.engine,
        model: input.model,
        language: input.language,
        durationSeconds: input.durationSeconds,
        startedAt,
        segments: turns,
      });
      await enqueueEvent(tx, input.userId, 'transcription.completed', { transcription_id: view.id, recording_id: recordingId });
      return view;
    },
    input.recordingId,
  );
  return { recordingId: recording.id, transcriptionId: transcription.id };
}
