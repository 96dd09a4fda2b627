import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AudioDecoder } from '../../src/realtime/audio-format.js';
import { decodeALaw, decodeMuLaw } from '../../src/realtime/g711.js';
import { Resampler } from '../../src/realtime/resample.js';

function sine(rate: number, hz: number, seconds: number, amplitude = 10_000): Int16Array {
  return Int16Array.from({ length: Math.round(rate * seconds) }, (_, i) => Math.round(amplitude * Math.sin((2 * Math.PI * hz * i) / rate)));
}

/** Amplitude of `hz` in `samples` (a single-bin DFT), comparable between rates. */
function amplitudeAt(samples: Int16Array, rate: number, hz: number): number {
  let re = 0;
  let im = 0;
  for (let i = 0; i < samples.length; i++) {
    re += samples[i]! * Math.cos((2 * Math.PI * hz * i) / rate);
    im += samples[i]! * Math.sin((2 * Math.PI * hz * i) / rate);
  }
  return (2 * Math.hypot(re, im)) / samples.length;
}

describe('Resampler', () => {
  it('turns 24 kHz into 16 kHz: two thirds of the samples, a 440 Hz tone kept', () => {
    const input = sine(24_000, 440, 1);
    const out = new Resampler(24_000, 16_000).push(input);
    assert.ok(Math.abs(out.length - 16_000) <= 2, `${out.length} samples`);
    const kept = amplitudeAt(out, 16_000, 440);
    assert.ok(kept > 9_500 && kept < 10_200, `440 Hz amplitude ${kept}`);
  });

  it('damps what would fold back: an 11 kHz tone (above 8 kHz) comes out much weaker', () => {
    const out = new Resampler(24_000, 16_000).push(sine(24_000, 11_000, 0.5));
    // 11 kHz folds to 5 kHz at 16 kHz.
    assert.ok(amplitudeAt(out, 16_000, 5_000) < 1_000);
  });

  it('gives the same stream whether fed at once or in odd-sized chunks', () => {
    const input = sine(24_000, 300, 0.5);
    const whole = new Resampler(24_000, 16_000).push(input);
    const chunked = new Resampler(24_000, 16_000);
    const parts: number[] = [];
    for (let at = 0, size = 1; at < input.length; at += size, size = (size * 7) % 997 + 1) {
      parts.push(...chunked.push(input.subarray(at, at + size)));
    }
    assert.deepEqual(Int16Array.from(parts), whole);
  });

  it('doubles 8 kHz to 16 kHz by interpolation', () => {
    const out = new Resampler(8_000, 16_000).push(Int16Array.from([0, 100, 200, 300]));
    assert.deepEqual([...out], [0, 50, 100, 150, 200, 250]);
  });
});

describe('G.711', () => {
  it('decodes μ-law and A-law reference values', () => {
    // ITU-T G.711: 0xFF/0x7F are ±0 in μ-law, 0x00 the most negative; A-law 0xD5/0x55 are ±8.
    assert.deepEqual([...decodeMuLaw(Uint8Array.from([0xff, 0x7f, 0x00, 0x80]))], [0, 0, -32124, 32124]);
    assert.deepEqual([...decodeALaw(Uint8Array.from([0xd5, 0x55, 0x2a, 0xaa]))], [8, -8, -32256, 32256]);
  });
});

describe('AudioDecoder', () => {
  it('joins a 16-bit sample split across two appends', () => {
    const decoder = new AudioDecoder('audio/pcm');
    const bytes = Buffer.alloc(2400 * 2);
    for (let i = 0; i < 2400; i++) bytes.writeInt16LE(1000, i * 2);
    const a = decoder.decode(bytes.subarray(0, 1001));
    const b = decoder.decode(bytes.subarray(1001));
    const all = [...a, ...b];
    assert.ok(Math.abs(all.length - 1600) <= 2);
    assert.ok(all.every((v) => v === 1000));
  });

  it('reads G.711 at 8 kHz as 16 kHz', () => {
    const out = new AudioDecoder('audio/pcmu').decode(Buffer.alloc(800, 0xff));
    assert.ok(Math.abs(out.length - 1600) <= 2);
  });
});
