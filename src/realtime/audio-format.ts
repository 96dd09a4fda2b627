/**
 * The audio formats a realtime session accepts (OpenAI's `audio.input.format`), decoded to what the
 * rest of the session uses: 16 kHz mono 16-bit PCM (engines, the stored recording) and the same
 * as floats in [-1, 1] (the VAD).
 */
import { decodeALaw, decodeMuLaw } from './g711.js';
import { Resampler } from './resample.js';

export type AudioFormatType = 'audio/pcm' | 'audio/pcmu' | 'audio/pcma';
export const AUDIO_FORMATS: readonly AudioFormatType[] = ['audio/pcm', 'audio/pcmu', 'audio/pcma'];

/** What the session works in. */
export const SESSION_RATE = 16_000;

/** OpenAI's shape for the format, as echoed in session.created / session.updated. */
export type AudioFormat = { type: 'audio/pcm'; rate: 24000 } | { type: 'audio/pcmu' } | { type: 'audio/pcma' };

export function audioFormat(type: AudioFormatType): AudioFormat {
  return type === 'audio/pcm' ? { type, rate: 24000 } : { type };
}

export function inputRate(type: AudioFormatType): number {
  return type === 'audio/pcm' ? 24_000 : 8_000;
}

/** Turns appended bytes of one format into 16 kHz PCM; keeps the resampler's state between chunks. */
export class AudioDecoder {
  private readonly resampler: Resampler;
  /** An odd trailing byte of 16-bit PCM, completed by the next chunk. */
  private leftover: number | null = null;

  constructor(readonly type: AudioFormatType) {
    this.resampler = new Resampler(inputRate(type), SESSION_RATE);
  }

  decode(bytes: Buffer): Int16Array {
    return this.resampler.push(this.samples(bytes));
  }

  private samples(bytes: Buffer): Int16Array {
    if (this.type === 'audio/pcmu') return decodeMuLaw(bytes);
    if (this.type === 'audio/pcma') return decodeALaw(bytes);
    let data = bytes;
    if (this.leftover !== null) {
      data = Buffer.concat([Buffer.from([this.leftover]), bytes]);
      this.leftover = null;
    }
    if (data.length % 2 === 1) {
      this.leftover = data[data.length - 1]!;
      data = data.subarray(0, data.length - 1);
    }
    const out = new Int16Array(data.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = data.readInt16LE(i * 2);
    return out;
  }
}

export function toFloat(samples: Int16Array): Float32Array {
  const out = new Float32Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = samples[i]! / 32768;
  return out;
}

export function pcmBytes(samples: Int16Array): Buffer {
  const out = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i++) out.writeInt16LE(samples[i]!, i * 2);
  return out;
}

/** A session sample index in milliseconds, as OpenAI's events count time. */
export function msOf(index: number): number {
  return Math.round((index * 1000) / SESSION_RATE);
}
