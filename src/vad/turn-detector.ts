/**
 * Turn detection with OpenAI's `server_vad` semantics on Silero probabilities: speech starts when a
 * window's probability reaches `threshold`, and stops once it has stayed below `threshold - 0.15`
 * for `silenceDurationMs`.
 *
 * Choices, where OpenAI documents none:
 * - Hysteresis of 0.15 (Silero's own `get_speech_timestamps` default): probabilities between the two
 *   thresholds neither start nor end a silence, so a soft syllable does not cut a sentence.
 * - A start needs MIN_SPEECH_WINDOWS windows (96 ms) at or above the threshold before any window falls
 *   below the lower one: a click or a cough of one or two windows starts nothing. The event then
 *   reports the onset (the first window), not the moment it was confirmed.
 * - `prefixPaddingMs` is the caller's: the events carry the onset, and a caller that keeps audio adds
 *   the padding before it.
 * - The clock counts every sample ever pushed; reset() keeps it running, so times stay those of the stream.
 */

import { SileroVad, VAD_SAMPLE_RATE, VAD_WINDOW } from './silero.js';

export interface TurnDetectorOptions {
  threshold: number;
  prefixPaddingMs: number;
  silenceDurationMs: number;
}

export type TurnEvent =
  | { type: 'speech_started'; audioStartMs: number }
  | { type: 'speech_stopped'; audioEndMs: number };

/** OpenAI's server_vad defaults. */
export const DEFAULT_TURN_DETECTOR_OPTIONS: Readonly<TurnDetectorOptions> = { threshold: 0.5, prefixPaddingMs: 300, silenceDurationMs: 500 };

const HYSTERESIS = 0.15;
const MIN_SPEECH_WINDOWS = 3;
const WINDOW_MS = (VAD_WINDOW * 1000) / VAD_SAMPLE_RATE;

export class TurnDetector {
  private readonly pending = new Float32Array(VAD_WINDOW);
  private pendingLength = 0;
  /** Samples already turned into windows (or dropped by reset()): the clock. */
  private consumed = 0;
  private speaking = false;
  /** While not speaking: the onset of a run of loud windows not yet long enough to count. */
  private candidateStart: number | null = null;
  private candidateWindows = 0;
  /** While speaking: where the current quiet stretch began. */
  private silenceStart: number | null = null;

  private constructor(
    private readonly vad: SileroVad,
    readonly options: Readonly<TurnDetectorOptions>,
  ) {}

  static async create(options: TurnDetectorOptions): Promise<TurnDetector> {
    if (!(options.threshold > 0 && options.threshold < 1)) throw new RangeError(`threshold must be between 0 and 1, not ${options.threshold}`);
    if (!(options.silenceDurationMs >= 0)) throw new RangeError(`silenceDurationMs must not be negative, not ${options.silenceDurationMs}`);
    return new TurnDetector(await SileroVad.create(), { ...options });
  }

  /** Whether speech has started and not yet stopped. */
  get inSpeech(): boolean {
    return this.speaking;
  }

  /** Milliseconds of audio pushed so far. */
  get elapsedMs(): number {
    return ((this.consumed + this.pendingLength) * 1000) / VAD_SAMPLE_RATE;
  }

  /** Feeds 16 kHz mono samples of any length; returns the events they completed, in order. */
  async push(samples: Float32Array): Promise<TurnEvent[]> {
    const events: TurnEvent[] = [];
    let offset = 0;
    while (offset < samples.length) {
      const take = Math.min(VAD_WINDOW - this.pendingLength, samples.length - offset);
      this.pending.set(samples.subarray(offset, offset + take), this.pendingLength);
      this.pendingLength += take;
      offset += take;
      if (this.pendingLength < VAD_WINDOW) break;
      const windowStartMs = (this.consumed * 1000) / VAD_SAMPLE_RATE;
      const probability = await this.vad.probability(this.pending);
      this.consumed += VAD_WINDOW;
      this.pendingLength = 0;
      const event = this.step(probability, windowStartMs);
      if (event) events.push(event);
    }
    return events;
  }

  /**
   * The stream ended: speech still open stops at the last sample pushed. A pending start that never
   * reached MIN_SPEECH_WINDOWS is dropped, like any other click.
   */
  end(): TurnEvent[] {
    const events: TurnEvent[] = [];
    if (this.speaking) events.push({ type: 'speech_stopped', audioEndMs: this.silenceStart ?? this.elapsedMs });
    this.forget();
    return events;
  }

  /** Forgets speech state, model state and any partial window; the clock keeps running. */
  reset(): void {
    this.consumed += this.pendingLength;
    this.pendingLength = 0;
    this.vad.reset();
    this.forget();
  }

  private forget(): void {
    this.speaking = false;
    this.candidateStart = null;
    this.candidateWindows = 0;
    this.silenceStart = null;
  }

  private step(probability: number, windowStartMs: number): TurnEvent | null {
    const { threshold, silenceDurationMs } = this.options;
    const lower = Math.max(threshold - HYSTERESIS, 0.01);
    if (!this.speaking) {
      if (probability >= threshold) {
        this.candidateStart ??= windowStartMs;
        this.candidateWindows++;
        if (this.candidateWindows >= MIN_SPEECH_WINDOWS) {
          const audioStartMs = this.candidateStart;
          this.speaking = true;
          this.candidateStart = null;
          this.candidateWindows = 0;
          this.silenceStart = null;
          return { type: 'speech_started', audioStartMs };
        }
      } else if (probability < lower) {
        this.candidateStart = null;
        this.candidateWindows = 0;
      }
      return null;
    }
    if (probability >= threshold) {
      this.silenceStart = null;
    } else if (probability < lower) {
      this.silenceStart ??= windowStartMs;
      if (windowStartMs + WINDOW_MS - this.silenceStart >= silenceDurationMs) {
        const audioEndMs = this.silenceStart;
        this.speaking = false;
        this.silenceStart = null;
        return { type: 'speech_stopped', audioEndMs };
      }
    }
    return null;
  }
}
