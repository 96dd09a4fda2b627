/**
 * Batch transcription with voice activity detection: the engine hears only the speech, stretches
 * joined by short pauses, and its times are mapped back onto the original audio. Long silences cost
 * no engine time, and whisper has nothing to hallucinate on.
 */

import { randomUUID } from 'node:crypto';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { wavHeader } from '../audio/wav.js';
import { speechRegionsInWav, type SpeechRegion } from '../vad/regions.js';
import type { VadSettings } from '../vad/settings.js';
import { VAD_SAMPLE_RATE } from '../vad/silero.js';
import { wavLayout } from '../vad/wav-file.js';
import type { EngineResult, EngineSegment, PcmAudio, TranscribeOptions, TranscriptionEngine } from './engines/engine.js';

/** Silence put between two stretches of speech: a pause the engine can end a segment at. */
const GAP_SECONDS = 0.5;
/** Bytes copied at a time from the original WAV. */
const COPY_BYTES = 1 << 20;

/** One stretch of speech as the engine heard it: from `at` in the cut audio, taken from `start`–`end` of the original. */
interface Piece {
  at: number;
  start: number;
  end: number;
}

export interface SpeechOnlyRun {
  result: EngineResult;
  /** Seconds of audio the engine was given (0 when there was no speech). */
  engineAudioSeconds: number;
  /** Wall-clock seconds the engine took. */
  engineSeconds: number;
}

/** Runs `engine` on the speech in `audio` only; segment and word times are the original's. */
export async function transcribeSpeechOnly(
  engine: TranscriptionEngine,
  audio: PcmAudio,
  settings: VadSettings,
  workDir: string,
  options: TranscribeOptions,
): Promise<SpeechOnlyRun> {
  const regions = await speechRegionsInWav(audio.wavPath, {
    threshold: settings.threshold,
    silenceDurationMs: settings.silenceDurationMs,
    paddingMs: settings.prefixPaddingMs,
  });
  options.signal.throwIfAborted();
  if (regions.length === 0) {
    return {
      result: { language: options.language ?? null, duration: audio.durationSeconds, segments: [], model: options.model ?? null },
      engineAudioSeconds: 0,
      engineSeconds: 0,
    };
  }
  const { cut, pieces } = await writeSpeechOnly(audio.wavPath, regions, workDir);
  const toOriginal = timeMapper(pieces);
  const started = performance.now();
  const result = await engine.transcribe(cut, {
    ...options,
    onSegment: options.onSegment && ((segment) => options.onSegment!(mapSegment(segment, toOriginal))),
  });
  return {
    result: { ...result, duration: audio.durationSeconds, segments: result.segments.map((s) => mapSegment(s, toOriginal)) },
    engineAudioSeconds: cut.durationSeconds,
    engineSeconds: (performance.now() - started) / 1000,
  };
}

/** Copies the regions' samples into a new WAV, GAP_SECONDS of silence between them. */
async function writeSpeechOnly(wavPath: string, regions: SpeechRegion[], workDir: string): Promise<{ cut: PcmAudio; pieces: Piece[] }> {
  const gapSamples = Math.round(GAP_SECONDS * VAD_SAMPLE_RATE);
  const source = await open(wavPath, 'r');
  const outPath = path.join(workDir, `speech-${randomUUID()}.wav`);
  const out = await open(outPath, 'w');
  try {
    const layout = await wavLayout(source);
    const pieces: Piece[] = [];
    let written = 0;
    let position = 44;
    const buffer = Buffer.alloc(COPY_BYTES);
    for (const [i, region] of regions.entries()) {
      if (i > 0) {
        await out.write(Buffer.alloc(gapSamples * 2), 0, gapSamples * 2, position);
        position += gapSamples * 2;
        written += gapSamples;
      }
      const first = Math.round(region.start * VAD_SAMPLE_RATE);
      const last = Math.min(layout.sampleCount, Math.round(region.end * VAD_SAMPLE_RATE));
      pieces.push({ at: written / VAD_SAMPLE_RATE, start: first / VAD_SAMPLE_RATE, end: last / VAD_SAMPLE_RATE });
      for (let byte = first * 2; byte < last * 2; ) {
        const { bytesRead } = await source.read(buffer, 0, Math.min(COPY_BYTES, last * 2 - byte), layout.dataOffset + byte);
        if (bytesRead === 0) break;
        await out.write(buffer, 0, bytesRead, position);
        position += bytesRead;
        byte += bytesRead;
      }
      written = (position - 44) / 2;
    }
    await out.write(wavHeader(written * 2, VAD_SAMPLE_RATE), 0, 44, 0);
    return { cut: { wavPath: outPath, durationSeconds: written / VAD_SAMPLE_RATE }, pieces };
  } finally {
    await out.close();
    await source.close();
  }
}

/**
 * Maps a time in the cut audio to the original. A time inside a gap (or past the end) belongs to
 * no speech: a start moves forward to the next piece, an end back to the previous one.
 */
function timeMapper(pieces: Piece[]): (seconds: number, edge: 'start' | 'end') => number {
  return (seconds, edge) => {
    let index = 0;
    while (index + 1 < pieces.length && pieces[index + 1]!.at <= seconds) index++;
    const piece = pieces[index]!;
    const length = piece.end - piece.start;
    const offset = seconds - piece.at;
    if (offset <= length) return round(piece.start + Math.max(0, offset));
    // In the gap after this piece.
    const next = pieces[index + 1];
    return round(edge === 'start' && next ? next.start : piece.end);
  };
}

function mapSegment(segment: EngineSegment, toOriginal: (seconds: number, edge: 'start' | 'end') => number): EngineSegment {
  const start = toOriginal(segment.start, 'start');
  const end = Math.max(start, toOriginal(segment.end, 'end'));
  return {
    ...segment,
    start,
    end,
    words: segment.words?.map((w) => {
      const wordStart = toOriginal(w.start, 'start');
      return { ...w, start: wordStart, end: Math.max(wordStart, toOriginal(w.end, 'end')) };
    }),
  };
}

function round(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}
