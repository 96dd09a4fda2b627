import type { EngineName } from '../../config.js';
import type { WordTiming } from '../../db/schema.js';
import { isPermanent, type ErrorCode } from '../../http/errors.js';

export type { EngineName };

/** Decoded audio, as produced by src/audio/decode.ts: a 16 kHz mono 16-bit PCM WAV file. */
export interface PcmAudio {
  wavPath: string;
  durationSeconds: number;
}

export interface TranscribeOptions {
  /** ISO 639-1 code; undefined asks the engine to detect it. */
  language?: string;
  /** Context or vocabulary to bias the engine. */
  prompt?: string;
  wordTimestamps: boolean;
  model?: string;
  signal: AbortSignal;
  /** 0–100, as the engine gets through the audio. */
  onProgress?: (percent: number) => void;
  /** Segments as the engine finalises them, for live progress. */
  onSegment?: (segment: EngineSegment) => void;
  /**
   * Voices the user already knows, for engines that diarize (the openai engine with a diarizing
   * model): names[i] is the label for the speaker heard in references[i], a `data:audio/…;base64,`
   * URL. Checked before the job is queued (speaker-hints.ts); other engines never get them.
   */
  speakerHints?: SpeakerHints;
}

export interface SpeakerHints {
  names: string[];
  references: string[];
}

export interface EngineSegment {
  start: number;
  end: number;
  text: string;
  words?: WordTiming[];
  /**
   * Who spoke, as the engine labels them: a known speaker's name, else its own label (OpenAI's
   * A, B, …). Labels hold within one request to the engine only; absent where the engine does not
   * diarize.
   */
  speaker?: string;
  /**
   * Whisper's decoding figures for the segment, as OpenAI's verbose_json reports them. Absent when
   * the engine does not report them: they are shown as null, never made up.
   */
  avgLogprob?: number;
  compressionRatio?: number;
  noSpeechProb?: number;
  temperature?: number;
}

export interface EngineResult {
  language: string | null;
  duration: number;
  segments: EngineSegment[];
  /** The model that actually ran. */
  model: string | null;
}

export interface TranscriptionEngine {
  readonly name: EngineName;
  /**
   * Rejects with EngineError (permanent: the input or request cannot work; transient: retrying may
   * work) or with an AbortError when `signal` fires, after the engine's work has really stopped.
   */
  transcribe(audio: PcmAudio, options: TranscribeOptions): Promise<EngineResult>;
}

export type EngineErrorKind = 'permanent' | 'transient';

export class EngineError extends Error {
  constructor(
    message: string,
    /**
     * A code from the list in src/http/errors.ts, e.g. language_not_supported, model_unavailable,
     * engine_failed; whether retrying can help is the code's `permanent` there.
     */
    readonly code: ErrorCode,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'EngineError';
  }

  /** permanent: the input or request cannot work; transient: retrying may. */
  get kind(): EngineErrorKind {
    return isPermanent(this.code) ? 'permanent' : 'transient';
  }
}

export function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  return new DOMException('The transcription was cancelled', 'AbortError');
}
