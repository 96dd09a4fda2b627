/**
 * Reading a 16 kHz mono PCM16 WAV (what src/audio/decode.ts writes) in pieces, so that hours of audio
 * never sit in memory as floats at once.
 */

import { open, type FileHandle } from 'node:fs/promises';
import { VAD_SAMPLE_RATE } from './silero.js';

export interface WavLayout {
  /** Byte offset of the first sample. */
  dataOffset: number;
  /** Samples in the file (mono, so frames). */
  sampleCount: number;
}

/** Chunk headers (RIFF, fmt, ffmpeg's LIST) fit well within this. */
const HEADER_PROBE_BYTES = 64 * 1024;

/** Finds the samples in a WAV: RIFF chunk by chunk, as parseWav does, reading only the header. */
export async function wavLayout(file: FileHandle): Promise<WavLayout> {
  const { size } = await file.stat();
  const head = Buffer.alloc(Math.min(size, HEADER_PROBE_BYTES));
  await file.read(head, 0, head.length, 0);
  if (head.length < 12 || head.toString('ascii', 0, 4) !== 'RIFF' || head.toString('ascii', 8, 12) !== 'WAVE') {
    throw new Error('not a RIFF/WAVE file');
  }
  let offset = 12;
  let formatOk = false;
  while (offset + 8 <= head.length) {
    const id = head.toString('ascii', offset, offset + 4);
    const chunkSize = head.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === 'fmt ') {
      const tag = head.readUInt16LE(body);
      const channels = head.readUInt16LE(body + 2);
      const sampleRate = head.readUInt32LE(body + 4);
      const bits = head.readUInt16LE(body + 14);
      if (tag !== 1 || bits !== 16 || channels !== 1 || sampleRate !== VAD_SAMPLE_RATE) {
        throw new Error(`speech detection needs 16 kHz mono 16-bit PCM, not ${sampleRate} Hz × ${channels} × ${bits} bits`);
      }
      formatOk = true;
    } else if (id === 'data') {
      if (!formatOk) throw new Error('WAV data chunk before fmt chunk');
      // Streaming writers leave the size at 0 or 0xFFFFFFFF: the data runs to the end of the file.
      const bytes = chunkSize === 0 || body + chunkSize > size ? size - body : chunkSize;
      return { dataOffset: body, sampleCount: Math.floor(bytes / 2) };
    }
    offset = body + chunkSize + (chunkSize % 2);
  }
  throw new Error('WAV file has no data chunk within its first 64 KiB');
}

/** `count` samples from `start` (in samples) as floats in [-1, 1]; fewer at the end of the file. */
export async function readWavRange(file: FileHandle, layout: WavLayout, start: number, count: number): Promise<Float32Array> {
  const first = Math.max(0, Math.min(start, layout.sampleCount));
  const n = Math.max(0, Math.min(count, layout.sampleCount - first));
  const bytes = Buffer.alloc(n * 2);
  const { bytesRead } = await file.read(bytes, 0, bytes.length, layout.dataOffset + first * 2);
  const out = new Float32Array(Math.floor(bytesRead / 2));
  for (let i = 0; i < out.length; i++) out[i] = bytes.readInt16LE(i * 2) / 32768;
  return out;
}

/** The whole file, `chunkSamples` at a time. */
export async function* wavChunks(wavPath: string, chunkSamples = VAD_SAMPLE_RATE * 10): AsyncGenerator<Float32Array> {
  const file = await open(wavPath, 'r');
  try {
    const layout = await wavLayout(file);
    for (let start = 0; start < layout.sampleCount; start += chunkSamples) {
      yield await readWavRange(file, layout, start, chunkSamples);
    }
  } finally {
    await file.close();
  }
}
