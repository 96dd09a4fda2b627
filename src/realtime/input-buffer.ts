/**
 * The input audio buffer: 16 kHz PCM received since the last commit, with its position in the
 * session's audio, so that a turn can be cut from "speech start minus padding" to "speech stop".
 * In server VAD mode, audio before any speech is trimmed to the padding that may still be needed.
 */
import { SESSION_RATE } from './audio-format.js';

export class InputBuffer {
  private chunks: Int16Array[] = [];
  private length = 0;
  /** Session sample index of the buffer's first sample. */
  private start = 0;

  /** Session sample index just past the last sample. */
  get end(): number {
    return this.start + this.length;
  }

  /** Samples held. */
  get size(): number {
    return this.length;
  }

  get seconds(): number {
    return this.length / SESSION_RATE;
  }

  get empty(): boolean {
    return this.length === 0;
  }

  append(samples: Int16Array): void {
    if (samples.length === 0) return;
    this.chunks.push(samples);
    this.length += samples.length;
  }

  /** Takes [from, to) (session sample indexes, clamped to what is held) and drops everything before `to`. */
  take(from: number, to: number): { start: number; samples: Int16Array } {
    const begin = Math.max(from, this.start);
    const stop = Math.min(Math.max(to, begin), this.end);
    const all = this.concat();
    const samples = all.slice(begin - this.start, stop - this.start);
    this.replace(all.subarray(stop - this.start), stop);
    return { start: begin, samples };
  }

  /** Everything held, emptying the buffer. */
  takeAll(): { start: number; samples: Int16Array } {
    return this.take(this.start, this.end);
  }

  /** Drops what lies before `index` (audio that can no longer belong to a turn). */
  dropBefore(index: number): void {
    if (index <= this.start) return;
    const all = this.concat();
    const cut = Math.min(index, this.end);
    this.replace(all.subarray(cut - this.start), cut);
  }

  clear(): void {
    this.replace(new Int16Array(0), this.end);
  }

  private concat(): Int16Array {
    if (this.chunks.length === 1) return this.chunks[0]!;
    const out = new Int16Array(this.length);
    let offset = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }

  private replace(rest: Int16Array, start: number): void {
    this.chunks = rest.length > 0 ? [rest.slice()] : [];
    this.length = rest.length;
    this.start = start;
  }
}
