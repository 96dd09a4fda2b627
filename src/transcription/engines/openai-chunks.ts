import { EngineError } from './engine.js';

const WAV_HEADER_BYTES = 44;
/** Length of the window whose RMS picks a cut point, and the hop between candidate windows. */
const CUT_WINDOW_SECONDS = 0.3;
const CUT_HOP_SECONDS = 0.01;
/** Cut points are looked for in this last part of each chunk's allowance. */
const CUT_SEARCH_FRACTION = 0.2;

/** A slice of the input, in frames (one sample per channel). */
export interface ChunkPlan {
  startFrame: number;
  endFrame: number;
}

/**
 * Plans where to cut `frames` frames so that every chunk's WAV (header included) stays within
 * `maxBytes`. Each cut is the middle of the quietest 300 ms window in the last 20% before the limit.
 */
export function planChunks(pcm: { samples: Int16Array; sampleRate: number; channels: number }, maxBytes: number): ChunkPlan[] {
  const { samples, sampleRate, channels } = pcm;
  const frames = Math.floor(samples.length / channels);
  const maxFrames = Math.floor((maxBytes - WAV_HEADER_BYTES) / (2 * channels));
  if (maxFrames < 1) {
    throw new EngineError(`STT_MAX_UPLOAD_BYTES (${maxBytes}) is too small for any audio`, 'engine_not_configured');
  }
  if (frames <= maxFrames) return [{ startFrame: 0, endFrame: frames }];

  // Energy per hop-sized block, then prefix sums so any window's energy is one subtraction.
  const hop = Math.max(1, Math.round(sampleRate * CUT_HOP_SECONDS));
  const blocks = Math.ceil(frames / hop);
  const prefix = new Float64Array(blocks + 1);
  for (let b = 0; b < blocks; b++) {
    let sum = 0;
    const end = Math.min(frames, (b + 1) * hop) * channels;
    for (let i = b * hop * channels; i < end; i++) {
      const v = samples[i]!;
      sum += v * v;
    }
    prefix[b + 1] = prefix[b]! + sum;
  }
  const windowBlocks = Math.max(1, Math.round(CUT_WINDOW_SECONDS / CUT_HOP_SECONDS));

  const plan: ChunkPlan[] = [];
  let start = 0;
  while (frames - start > maxFrames) {
    const limit = start + maxFrames;
    const searchFrom = limit - Math.floor(maxFrames * CUT_SEARCH_FRACTION);
    const firstBlock = Math.ceil(searchFrom / hop);
    const lastBlock = Math.floor(limit / hop) - windowBlocks;
    let cut = limit;
    let best = Infinity;
    for (let b = firstBlock; b <= lastBlock; b++) {
      const energy = prefix[b + windowBlocks]! - prefix[b]!;
      // `<=` keeps the latest of equally quiet windows: fewer, fuller chunks.
      if (energy <= best) {
        best = energy;
        cut = (b + Math.floor(windowBlocks / 2)) * hop;
      }
    }
    if (cut <= start) cut = limit;
    plan.push({ startFrame: start, endFrame: cut });
    start = cut;
  }
  plan.push({ startFrame: start, endFrame: frames });
  return plan;
}
