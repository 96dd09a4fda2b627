/**
 * server_vad for one session: the turn detector's events turned into speech items on the session's
 * clock (sample indexes from the session's first sample, whenever the detector was (re)created).
 */
import { TurnDetector } from '../vad/turn-detector.js';
import { SESSION_RATE, toFloat } from './audio-format.js';
import { newId } from './protocol.js';
import type { ServerVad } from './session-config.js';

export type SpeechChange =
  | { type: 'started'; itemId: string; onset: number }
  | { type: 'stopped'; itemId: string; onset: number; stop: number };

export class SpeechTurns {
  private detector: TurnDetector | null = null;
  /** Session sample index at which the detector's clock started. */
  private offset = 0;
  /** The speech in progress: its item and onset. */
  current: { itemId: string; onset: number } | null = null;

  get enabled(): boolean {
    return this.detector !== null;
  }

  /** (Re)creates the detector for `vad` (none for null), its clock starting at session sample `at`. */
  async configure(vad: ServerVad | null, at: number): Promise<void> {
    this.current = null;
    this.detector = vad
      ? await TurnDetector.create({
          // The detector needs an open interval; OpenAI accepts 0 and 1 at the ends.
          threshold: Math.min(0.99, Math.max(0.01, vad.threshold)),
          prefixPaddingMs: vad.prefix_padding_ms,
          silenceDurationMs: vad.silence_duration_ms,
        })
      : null;
    this.offset = at;
  }

  /**
   * Cuts the speech in progress at session sample `at`: the part before is returned (to be committed)
   * and the rest continues as a new item. Null when no speech is in progress.
   */
  split(at: number): { itemId: string; onset: number; next: string } | null {
    if (!this.current) return null;
    const before = this.current;
    this.current = { itemId: newId('item'), onset: at };
    return { ...before, next: this.current.itemId };
  }

  /** Forgets the speech in progress (clear, manual commit); the clock runs on. */
  reset(): void {
    this.detector?.reset();
    this.current = null;
  }

  async push(samples: Int16Array): Promise<SpeechChange[]> {
    if (!this.detector) return [];
    const changes: SpeechChange[] = [];
    for (const event of await this.detector.push(toFloat(samples))) {
      if (event.type === 'speech_started') {
        this.current = { itemId: newId('item'), onset: this.at(event.audioStartMs) };
        changes.push({ type: 'started', ...this.current });
      } else if (this.current) {
        changes.push({ type: 'stopped', ...this.current, stop: this.at(event.audioEndMs) });
        this.current = null;
      }
    }
    return changes;
  }

  private at(ms: number): number {
    return this.offset + Math.round((ms * SESSION_RATE) / 1000);
  }
}
