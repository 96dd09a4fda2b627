/** Duration of an Ogg file (Vorbis, Opus, FLAC or Speex) from its first page and the granule position of its last. */

import { AudioDecodeError } from '../decode.js';
import type { FileWindow } from './file-window.js';
import { parseStreamInfo } from './flac.js';

const PAGE_HEADER = 27;
/** A page is at most 27 + 255 lacing bytes + 255 × 255 data bytes. */
const MAX_PAGE = PAGE_HEADER + 255 + 255 * 255;
/** Granule position of a page on which no packet ends. */
const NO_GRANULE = 0xffff_ffff_ffff_ffffn;

interface Codec {
  /** Granule positions count samples at this rate. */
  rate: number;
  /** Samples at the start that decoders drop (Opus' pre-skip). */
  preSkip: number;
}

interface Page {
  serial: number;
  granule: bigint;
  /** Offset of the page's data, and its length from the lacing values. */
  dataAt: number;
  dataLength: number;
  segments: Buffer;
}

function pageAt(bytes: Buffer, at: number): Page | null {
  if (at + PAGE_HEADER > bytes.length || bytes.toString('latin1', at, at + 4) !== 'OggS' || bytes.readUInt8(at + 4) !== 0) return null;
  const count = bytes.readUInt8(at + 26);
  if (at + PAGE_HEADER + count > bytes.length) return null;
  const segments = bytes.subarray(at + PAGE_HEADER, at + PAGE_HEADER + count);
  const dataLength = segments.reduce((sum, lacing) => sum + lacing, 0);
  return { serial: bytes.readUInt32LE(at + 14), granule: bytes.readBigUInt64LE(at + 6), dataAt: at + PAGE_HEADER + count, dataLength, segments };
}

/** The codec from the first packet of the first page; null for one we do not know (ffmpeg will tell). */
function codecOf(packet: Buffer): Codec | null {
  if (packet.length >= 16 && packet.readUInt8(0) === 1 && packet.toString('latin1', 1, 7) === 'vorbis') {
    return { rate: packet.readUInt32LE(12), preSkip: 0 };
  }
  if (packet.length >= 19 && packet.toString('latin1', 0, 8) === 'OpusHead') {
    // Opus granules always count 48 kHz samples, whatever the input rate was.
    return { rate: 48_000, preSkip: packet.readUInt16LE(10) };
  }
  if (packet.length >= 13 + 4 + 34 && packet.readUInt8(0) === 0x7f && packet.toString('latin1', 1, 5) === 'FLAC') {
    return { rate: parseStreamInfo(packet.subarray(13 + 4)).sampleRate, preSkip: 0 };
  }
  if (packet.length >= 40 && packet.toString('latin1', 0, 8) === 'Speex   ') {
    return { rate: packet.readUInt32LE(36), preSkip: 0 };
  }
  return null;
}

/**
 * Seconds of audio: the last complete page of the first stream says how many samples came before
 * its end. Null for codecs we do not know, and for files whose tail holds no page of that stream
 * (chained or multiplexed files): ffmpeg decides those.
 */
export async function oggDuration(file: FileWindow): Promise<number | null> {
  const head = await file.read(0, MAX_PAGE);
  const first = pageAt(head, 0);
  if (!first) throw new AudioDecodeError('the first Ogg page is truncated or malformed');
  const firstPacketLength = first.segments.findIndex((lacing) => lacing < 255);
  if (firstPacketLength < 0) return null;
  const packetBytes = first.segments.subarray(0, firstPacketLength + 1).reduce((sum, lacing) => sum + lacing, 0);
  const codec = codecOf(head.subarray(first.dataAt, first.dataAt + packetBytes));
  if (!codec) return null;
  if (codec.rate === 0) throw new AudioDecodeError('the Ogg stream declares a sample rate of 0');

  const tailStart = Math.max(0, file.size - 2 * MAX_PAGE);
  const tail = await file.read(tailStart, file.size - tailStart);
  for (let at = tail.lastIndexOf('OggS'); at >= 0; at = at > 0 ? tail.lastIndexOf('OggS', at - 1) : -1) {
    const page = pageAt(tail, at);
    // A page cut short by the end of the file does not count; neither does "OggS" inside packet data.
    if (!page || page.serial !== first.serial || page.dataAt + page.dataLength > tail.length) continue;
    if (page.granule === NO_GRANULE) continue;
    const samples = Number(page.granule) - codec.preSkip;
    return Math.max(0, samples) / codec.rate;
  }
  return null;
}
