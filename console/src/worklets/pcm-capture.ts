/**
 * AudioWorklet processor for live sessions: the microphone as 24 kHz mono PCM16 (little-endian,
 * what the realtime socket's `audio/pcm` expects), posted to the page in 100 ms chunks.
 * Chromium runs the AudioContext at 24 kHz and resamples the microphone itself; where a browser
 * cannot (Firefox will not connect a stream to a context of another rate), the page opens the
 * context at the device's rate and this resamples, linearly.
 *
 * A message from the page (any) flushes what is left of the current chunk, then `null` is posted:
 * the page then knows every sample has reached it.
 */

// The AudioWorkletGlobalScope's names; TypeScript's DOM library does not describe that scope.
declare const sampleRate: number;
declare class AudioWorkletProcessor {
  readonly port: MessagePort;
}
declare function registerProcessor(name: string, processor: new () => AudioWorkletProcessor): void;

const TARGET_RATE = 24_000;
const CHUNK_SAMPLES = TARGET_RATE / 10;

class PcmCapture extends AudioWorkletProcessor {
  /** Input samples per output sample. */
  private readonly step = sampleRate / TARGET_RATE;
  /** Where the next output sample falls, in input samples from the current block's start (-1: the previous block's last). */
  private at = 0;
  private previous = 0;
  private chunk = new Int16Array(CHUNK_SAMPLES);
  private filled = 0;
  private stopped = false;

  constructor() {
    super();
    this.port.onmessage = () => {
      this.post();
      this.port.postMessage(null);
      this.stopped = true;
    };
  }

  process(inputs: Float32Array[][]): boolean {
    // The node is mono (channelCountMode explicit): the graph has already mixed the channels down.
    const input = inputs[0]?.[0];
    if (this.stopped) return false;
    if (!input || input.length === 0) return true;
    const n = input.length;
    while (this.at < n - 1 || (this.step === 1 && this.at < n)) {
      const i = Math.floor(this.at);
      const frac = this.at - i;
      const a = i < 0 ? this.previous : input[i]!;
      const b = frac === 0 ? a : input[i + 1]!;
      this.push(a + (b - a) * frac);
      this.at += this.step;
    }
    this.at -= n;
    this.previous = input[n - 1]!;
    return true;
  }

  private push(sample: number): void {
    const s = Math.max(-1, Math.min(1, sample));
    this.chunk[this.filled++] = s < 0 ? s * 0x8000 : s * 0x7fff;
    if (this.filled === CHUNK_SAMPLES) this.post();
  }

  private post(): void {
    if (this.filled === 0) return;
    const out = this.chunk.slice(0, this.filled);
    this.port.postMessage(out.buffer, [out.buffer]);
    this.chunk = new Int16Array(CHUNK_SAMPLES);
    this.filled = 0;
  }
}

registerProcessor('pcm-capture', PcmCapture);

// A module, so that the declarations above stay in this file (worklets load as modules anyway).
export {};
