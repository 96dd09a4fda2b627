import { beforeEach, describe, expect, test, vi } from 'vitest';

/**
 * The live screen's AudioWorklet processor outside a browser: the AudioWorkletGlobalScope it
 * relies on (sampleRate, AudioWorkletProcessor and its port, registerProcessor) is provided here,
 * then the module is loaded at the rate a test wants.
 */
interface Processor {
  process(inputs: Float32Array[][]): boolean;
  port: { onmessage: ((event: unknown) => void) | null };
}

let posted: (ArrayBuffer | null)[] = [];

async function processorAt(rate: number): Promise<Processor> {
  vi.resetModules();
  posted = [];
  let made: (new () => Processor) | undefined;
  Object.assign(globalThis, {
    sampleRate: rate,
    AudioWorkletProcessor: class {
      port = { onmessage: null, postMessage: (data: ArrayBuffer | null) => posted.push(data) };
    },
    registerProcessor: (_name: string, processor: new () => Processor) => (made = processor),
  });
  await import('./pcm-capture');
  return new made!();
}

/** Feeds `samples` in render quanta of 128, as the audio thread does. */
function feed(processor: Processor, samples: Float32Array): void {
  for (let at = 0; at < samples.length; at += 128) processor.process([[samples.subarray(at, at + 128)]]);
}

const chunks = () => posted.filter((data): data is ArrayBuffer => data !== null).map((data) => new Int16Array(data));

describe('pcm-capture: the microphone as 24 kHz PCM16 in 100 ms chunks', () => {
  beforeEach(() => {
    posted = [];
  });

  test('at 24 kHz: 2400 samples a chunk, converted to 16-bit and clipped', async () => {
    const processor = await processorAt(24_000);
    const samples = new Float32Array(4800).map((_, i) => [0.5, -0.5, 1.5, -1][i % 4]!);
    feed(processor, samples);
    const out = chunks();
    expect(out.map((chunk) => chunk.length)).toEqual([2400, 2400]);
    expect([...out[0]!.subarray(0, 4)]).toEqual([16383, -16384, 32767, -32768]);
  });

  test('at 48 kHz: resampled to 24 kHz (every other sample of a ramp), across render quanta', async () => {
    const processor = await processorAt(48_000);
    const ramp = new Float32Array(4800).map((_, i) => i / 8192);
    feed(processor, ramp);
    const [chunk] = chunks();
    expect(chunk).toHaveLength(2400);
    const expected = Array.from({ length: 2400 }, (_, i) => Math.trunc(((2 * i) / 8192) * 0x7fff));
    expect([...chunk!]).toEqual(expected);
  });

  test('at 44.1 kHz: 0.1 s in is 0.1 s out, interpolated between input samples', async () => {
    const processor = await processorAt(44_100);
    feed(processor, new Float32Array(4410).fill(0.25));
    processor.port.onmessage?.({ data: 'flush' });
    const out = chunks();
    const total = out.reduce((sum, chunk) => sum + chunk.length, 0);
    expect(Math.abs(total - 2400)).toBeLessThanOrEqual(1);
    expect(new Set(out.flatMap((chunk) => [...chunk]))).toEqual(new Set([Math.trunc(0.25 * 0x7fff)]));
  });

  test('a message from the page flushes the partial chunk, then null marks the end', async () => {
    const processor = await processorAt(24_000);
    feed(processor, new Float32Array(300).fill(0.1));
    expect(posted).toEqual([]);
    processor.port.onmessage?.({ data: 'flush' });
    expect(chunks().map((chunk) => chunk.length)).toEqual([300]);
    expect(posted.at(-1)).toBeNull();
    // Stopped: the node may be released.
    expect(processor.process([[new Float32Array(128)]])).toBe(false);
  });
});
