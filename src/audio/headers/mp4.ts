/** Duration of an MP4/M4A file from the media header of its first sound track. */

import { AudioDecodeError, NO_AUDIO } from '../decode.js';
import { bufferWindow, MAX_READ, type FileWindow } from './file-window.js';

/** Boxes looked at per level: real files have a handful; more means garbage. */
const MAX_BOXES = 256;

interface Box {
  type: string;
  /** Offset and end of the box's content. */
  body: number;
  end: number;
}

/**
 * The boxes between `start` and `end`. A box that runs past `end` is corrupt, except at the top
 * level (`lenient`), where it is the media data of a cut file and the index before it still counts.
 */
async function boxesIn(file: FileWindow, start: number, end: number, lenient = false): Promise<Box[]> {
  const boxes: Box[] = [];
  let at = start;
  while (at + 8 <= end) {
    if (boxes.length >= MAX_BOXES) throw new AudioDecodeError('the MP4 file has too many boxes');
    const header = await file.read(at, 16);
    const size32 = header.readUInt32BE(0);
    const body = at + (size32 === 1 ? 16 : 8);
    const size = size32 === 1 ? Number(header.readBigUInt64BE(8)) : size32 === 0 ? end - at : size32;
    if (size < body - at) throw new AudioDecodeError('the MP4 file has a box shorter than its header');
    if (at + size > end) {
      if (lenient) break;
      throw new AudioDecodeError('the MP4 file is truncated');
    }
    boxes.push({ type: header.toString('latin1', 4, 8), body, end: at + size });
    at += size;
  }
  return boxes;
}

async function child(file: FileWindow, parent: Box, type: string): Promise<Box | undefined> {
  return (await boxesIn(file, parent.body, parent.end)).find((box) => box.type === type);
}

/**
 * Seconds of audio of the first sound track (`trak/mdia/hdlr` = soun), from `mdia/mdhd`. Null for
 * fragmented files, whose headers leave the duration to the fragments.
 */
export async function mp4Duration(file: FileWindow): Promise<number | null> {
  const moov = (await boxesIn(file, 0, file.size, true)).find((box) => box.type === 'moov');
  if (!moov) throw new AudioDecodeError('the MP4 file has no moov box (its index is missing)');
  // The index is read whole and walked in memory: one read, however many boxes it holds. Past
  // MAX_READ (hours of audio) ffmpeg measures the file instead.
  if (moov.end - moov.body > MAX_READ) return null;
  const index = bufferWindow(await file.read(moov.body, moov.end - moov.body));
  const moovBoxes = await boxesIn(index, 0, index.size);
  if (moovBoxes.some((box) => box.type === 'mvex')) return null;
  for (const trak of moovBoxes.filter((box) => box.type === 'trak')) {
    const mdia = await child(index, trak, 'mdia');
    if (!mdia) continue;
    const hdlr = await child(index, mdia, 'hdlr');
    if (!hdlr || (await index.read(hdlr.body + 8, 4)).toString('latin1') !== 'soun') continue;
    const mdhd = await child(index, mdia, 'mdhd');
    if (!mdhd) throw new AudioDecodeError('the MP4 sound track has no media header');
    return mediaSeconds(await index.read(mdhd.body, Math.min(32, mdhd.end - mdhd.body)));
  }
  throw new AudioDecodeError(NO_AUDIO);
}

function mediaSeconds(mdhd: Buffer): number | null {
  const version = mdhd.readUInt8(0);
  if (mdhd.length < (version === 1 ? 32 : 20)) throw new AudioDecodeError('the MP4 media header is truncated');
  const timescale = mdhd.readUInt32BE(version === 1 ? 20 : 12);
  const duration = version === 1 ? mdhd.readBigUInt64BE(24) : BigInt(mdhd.readUInt32BE(16));
  if (timescale === 0) throw new AudioDecodeError('the MP4 media header declares a timescale of 0');
  // 0 in fragmented files, all ones for "unknown".
  if (duration === 0n || duration === 0xffff_ffffn || duration === 0xffff_ffff_ffff_ffffn) return null;
  return Number(duration) / timescale;
}
