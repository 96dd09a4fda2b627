/** Duration of a native FLAC file from its STREAMINFO block. */

import { AudioDecodeError, NO_AUDIO } from '../decode.js';
import type { FileWindow } from './file-window.js';
import { id3v2Length } from './id3.js';

const STREAMINFO = 0;
const STREAMINFO_BYTES = 34;
/** Metadata blocks before the audio: a handful in practice (tags, seek table, pictures, padding). */
const MAX_BLOCKS = 128;

export interface StreamInfo {
  sampleRate: number;
  /** 0 when the encoder did not know it (a stream piped to it). */
  totalSamples: number;
}

/** Reads the 34-byte STREAMINFO body (shared with FLAC inside Ogg). */
export function parseStreamInfo(body: Buffer): StreamInfo {
  if (body.length < STREAMINFO_BYTES) throw new AudioDecodeError('the FLAC STREAMINFO block is truncated');
  // Bits 80…143: sample rate (20), channels − 1 (3), bits per sample − 1 (5), total samples (36).
  const sampleRate = (body.readUInt8(10) << 12) | (body.readUInt8(11) << 4) | (body.readUInt8(12) >> 4);
  const totalSamples = (body.readUInt8(13) & 0x0f) * 2 ** 32 + body.readUInt32BE(14);
  if (sampleRate === 0) throw new AudioDecodeError('the FLAC header declares a sample rate of 0');
  return { sampleRate, totalSamples };
}

/**
 * Seconds of audio from STREAMINFO's sample count, after checking that the metadata blocks lead to
 * an audio frame inside the file (a file cut after its header has none). Null when the count is
 * unknown (0).
 */
export async function flacDuration(file: FileWindow): Promise<number | null> {
  const start = await id3v2Length(file);
  const magic = await file.read(start, 4);
  if (magic.toString('latin1') !== 'fLaC') throw new AudioDecodeError('the FLAC signature is missing');

  let info: StreamInfo | null = null;
  let offset = start + 4;
  for (let blocks = 0; ; blocks++) {
    if (blocks >= MAX_BLOCKS) throw new AudioDecodeError('the FLAC metadata never ends');
    const header = await file.read(offset, 4);
    if (header.length < 4) throw new AudioDecodeError('the FLAC metadata is truncated');
    const last = (header.readUInt8(0) & 0x80) !== 0;
    const type = header.readUInt8(0) & 0x7f;
    const length = header.readUIntBE(1, 3);
    if (blocks === 0) {
      if (type !== STREAMINFO) throw new AudioDecodeError('the FLAC stream does not start with STREAMINFO');
      info = parseStreamInfo(await file.read(offset + 4, STREAMINFO_BYTES));
    }
    offset += 4 + length;
    if (last) break;
  }

  // Every FLAC frame starts with the 14-bit sync code 0b11111111111110.
  const frame = await file.read(offset, 2);
  if (frame.length < 2) throw new AudioDecodeError(offset >= file.size ? NO_AUDIO : 'the FLAC file is truncated');
  if (frame.readUInt8(0) !== 0xff || (frame.readUInt8(1) & 0xfe) !== 0xf8) {
    throw new AudioDecodeError('the FLAC metadata is not followed by an audio frame');
  }
  if (!info || info.totalSamples === 0) return null;
  return info.totalSamples / info.sampleRate;
}
