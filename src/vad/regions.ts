/** Speech regions of a whole recording: the turn detector run over it, padded, overlaps merged. */

import { open } from 'node:fs/promises';
import { DEFAULT_TURN_DETECTOR_OPTIONS, TurnDetector, type TurnDetectorOptions, type TurnEvent } from './turn-detector.js';
import { readWavRange, wavChunks, wavLayout } from './wav-file.js';

export interface SpeechRegion {
  /** Seconds. */
  start: number;
  end: number;
}

export type SpeechRegionOptions = Partial<TurnDetectorOptions> & {
  /** Added before and after each region (clamped to the audio; regions it makes overlap are merged). Default 0. */
  paddingMs?: number;
};

/** Speech regions of 16 kHz mono samples, in seconds. */
export async function speechRegions(samples: Float32Array, options: SpeechRegionOptions = {}): Promise<SpeechRegion[]> {
  return regionsOf(
    (async function* () {
      yield samples;
    })(),
    options,
  );
}

/** Speech regions of a 16 kHz mono PCM16 WAV, read a piece at a time. */
export async function speechRegionsInWav(wavPath: string, options: SpeechRegionOptions = {}): Promise<SpeechRegion[]> {
  return regionsOf(wavChunks(wavPath), options);
}

/** A 16 kHz mono PCM16 WAV (what src/audio/decode.ts writes) as floats. */
export async function readWavSamples(wavPath: string): Promise<Float32Array> {
  const file = await open(wavPath, 'r');
  try {
    const layout = await wavLayout(file);
    return await readWavRange(file, layout, 0, layout.sampleCount);
  } finally {
    await file.close();
  }
}

async function regionsOf(chunks: AsyncIterable<Float32Array>, options: SpeechRegionOptions): Promise<SpeechRegion[]> {
  const { paddingMs = 0, ...detectorOptions } = options;
  const detector = await TurnDetector.create({ ...DEFAULT_TURN_DETECTOR_OPTIONS, ...withoutUndefined(detectorOptions) });
  const events: TurnEvent[] = [];
  for await (const chunk of chunks) events.push(...(await detector.push(chunk)));
  const durationMs = detector.elapsedMs;
  events.push(...detector.end());
  return padAndMerge(pairUp(events), paddingMs, durationMs);
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function pairUp(events: TurnEvent[]): { startMs: number; endMs: number }[] {
  const pairs: { startMs: number; endMs: number }[] = [];
  let startMs: number | null = null;
  for (const event of events) {
    if (event.type === 'speech_started') startMs = event.audioStartMs;
    else if (startMs !== null) {
      pairs.push({ startMs, endMs: event.audioEndMs });
      startMs = null;
    }
  }
  return pairs;
}

function padAndMerge(pairs: { startMs: number; endMs: number }[], paddingMs: number, durationMs: number): SpeechRegion[] {
  const merged: { startMs: number; endMs: number }[] = [];
  for (const pair of pairs) {
    const startMs = Math.max(0, pair.startMs - paddingMs);
    const endMs = Math.min(durationMs, pair.endMs + paddingMs);
    const last = merged.at(-1);
    if (last && startMs <= last.endMs) last.endMs = Math.max(last.endMs, endMs);
    else merged.push({ startMs, endMs });
  }
  return merged.map(({ startMs, endMs }) => ({ start: round(startMs / 1000), end: round(endMs / 1000) }));
}

/** Millisecond precision: finer than a 32 ms window means nothing. */
function round(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}
