import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from './engine.js';

/** whisper.cpp's input rate: 16 kHz mono 16-bit PCM can be handed over as it is. */
export const SAMPLE_RATE = 16_000;

export interface WavReader {
  /** Null when the file is not 16 kHz mono 16-bit PCM (whisper.cpp then decodes it itself). */
  format: { dataOffset: number } | null;
  samples: number;
  read(startSample: number, endSample: number): Promise<ArrayBuffer>;
  close(): Promise<void>;
}

/** Finds the data chunk of a RIFF/WAVE file without reading the samples into memory. */
export async function openWav(wavPath: string): Promise<WavReader> {
  let handle: FileHandle;
  try {
    handle = await open(wavPath, 'r');
  } catch (error) {
    throw new EngineError(
      `Cannot read the decoded audio ${path.basename(wavPath)}: ${(error as Error).message}`,
      'engine_failed',
      { cause: error },
    );
  }
  const close = () => handle.close().catch(() => {});
  const unknown: WavReader = {
    format: null,
    samples: 0,
    read: () => Promise.reject(new Error('not a PCM WAV')),
    close,
  };
  try {
    const fileSize = (await handle.stat()).size;
    const header = Buffer.alloc(12);
    await handle.read(header, 0, 12, 0);
    if (header.toString('ascii', 0, 4) !== 'RIFF' || header.toString('ascii', 8, 12) !== 'WAVE') return unknown;
    let offset = 12;
    let pcm16kMono = false;
    const chunkHeader = Buffer.alloc(8);
    while (offset + 8 <= fileSize) {
      await handle.read(chunkHeader, 0, 8, offset);
      const id = chunkHeader.toString('ascii', 0, 4);
      let size = chunkHeader.readUInt32LE(4);
      const body = offset + 8;
      if (id === 'fmt ') {
        const fmt = Buffer.alloc(16);
        await handle.read(fmt, 0, 16, body);
        const tag = fmt.readUInt16LE(0);
        pcm16kMono = tag === 1 && fmt.readUInt16LE(2) === 1 && fmt.readUInt32LE(4) === SAMPLE_RATE && fmt.readUInt16LE(14) === 16;
      } else if (id === 'data') {
        if (!pcm16kMono) return unknown;
        // Streaming writers leave the size at 0 or 0xFFFFFFFF: the data runs to the end of the file.
        if (size === 0 || body + size > fileSize) size = fileSize - body;
        const samples = Math.floor(size / 2);
        return {
          format: { dataOffset: body },
          samples,
          close,
          async read(startSample, endSample) {
            const bytes = (endSample - startSample) * 2;
            const out = new ArrayBuffer(bytes);
            const view = new Uint8Array(out);
            let done = 0;
            while (done < bytes) {
              const { bytesRead } = await handle.read(view, done, bytes - done, body + startSample * 2 + done);
              if (bytesRead === 0) break;
              done += bytesRead;
            }
            return done === bytes ? out : out.slice(0, done - (done % 2));
          },
        };
      }
      offset = body + size + (size % 2);
    }
    return unknown;
  } catch (error) {
    await close();
    throw error;
  }
}
