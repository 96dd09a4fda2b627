/**
 * Streaming sample-rate conversion of 16-bit mono PCM by linear interpolation between neighbouring
 * samples. Chunks may be any length: the filter state and the position between input samples are
 * carried to the next chunk, so a stream converted in pieces equals the stream converted at once.
 *
 * Downsampling (24 kHz to 16 kHz) first smooths the input with a [1 2 1] / 4 filter (a gentle
 * low-pass, one sample of delay) so that the 8–12 kHz band does not fold back into speech
 * frequencies; speech recognisers and the VAD look at 0–8 kHz, and this costs a few operations per
 * sample. Upsampling (8 kHz G.711 to 16 kHz) needs no filter.
 */
export class Resampler {
  private readonly step: number;
  private readonly smooth: boolean;
  /** Filtered samples not yet passed by the output position. */
  private pending: number[] = [];
  /** Position of the next output sample, in input samples from pending[0]. */
  private position = 0;
  /** The smoothing filter's last two raw inputs. */
  private history: [number, number] | null = null;

  constructor(
    readonly fromRate: number,
    readonly toRate: number,
  ) {
    if (!(fromRate > 0 && toRate > 0)) throw new RangeError('sample rates must be positive');
    this.step = fromRate / toRate;
    this.smooth = toRate < fromRate;
  }

  push(input: Int16Array): Int16Array {
    if (this.fromRate === this.toRate) return input.slice();
    for (const sample of input) {
      if (!this.smooth) {
        this.pending.push(sample);
        continue;
      }
      // The first sample stands in for the one before it: the stream starts without a click.
      const [a, b] = this.history ?? [sample, sample];
      if (this.history) this.pending.push((a + 2 * b + sample) / 4);
      this.history = [b, sample];
    }
    const out: number[] = [];
    while (Math.floor(this.position) + 1 < this.pending.length) {
      const left = Math.floor(this.position);
      const fraction = this.position - left;
      out.push(this.pending[left]! * (1 - fraction) + this.pending[left + 1]! * fraction);
      this.position += this.step;
    }
    const done = Math.floor(this.position);
    if (done > 0) {
      this.pending = this.pending.slice(done);
      this.position -= done;
    }
    return Int16Array.from(out, (v) => Math.max(-32768, Math.min(32767, Math.round(v))));
  }
}
