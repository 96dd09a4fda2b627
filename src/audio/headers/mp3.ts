/** Duration of an MPEG audio (MP3) file from its first frames: the Xing/Info or VBRI tag, else the constant bitrate. */

import { AudioDecodeError } from '../decode.js';
import type { FileWindow } from './file-window.js';
import { id3v1Length, id3v2Length } from './id3.js';

/** How far past the ID3 tag the first frame is looked for: encoders put it right there. */
const SEARCH_BYTES = 64 * 1024;

/** Encoders whose Xing extension gives the delay and padding decoders trim, as ffmpeg's reader trusts them. */
const GAPLESS_ENCODERS = new Set(['LAME', 'Lavf', 'Lavc']);
/** kbit/s by bitrate index 1…14: [MPEG-1 layer I, II, III, MPEG-2/2.5 layer I, II & III]. */
const BITRATES = [
  [32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
  [32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
  [32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  [32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
  [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
] as const;
/** Hz by version bits (0 MPEG-2.5, 2 MPEG-2, 3 MPEG-1) and sample-rate index. */
const SAMPLE_RATES: Readonly<Record<number, readonly number[]>> = {
  0: [11025, 12000, 8000],
  2: [22050, 24000, 16000],
  3: [44100, 48000, 32000],
};

interface Frame {
  version: number;
  layer: number;
  mono: boolean;
  sampleRate: number;
  /** bits per second */
  bitrate: number;
  samplesPerFrame: number;
  length: number;
}

/** The frame header at `at`, or null if those 4 bytes are not one (free-format frames included: they have no length). */
function frameAt(bytes: Buffer, at: number): Frame | null {
  if (at + 4 > bytes.length) return null;
  const b1 = bytes.readUInt8(at + 1);
  const b2 = bytes.readUInt8(at + 2);
  if (bytes.readUInt8(at) !== 0xff || (b1 & 0xe0) !== 0xe0) return null;
  const version = (b1 >> 3) & 3;
  const layerBits = (b1 >> 1) & 3;
  const bitrateIndex = b2 >> 4;
  const rates = SAMPLE_RATES[version];
  const sampleRate = rates?.[(b2 >> 2) & 3];
  if (layerBits === 0 || bitrateIndex === 0 || bitrateIndex === 15 || sampleRate === undefined) return null;
  const layer = 4 - layerBits;
  const mpeg1 = version === 3;
  const table = mpeg1 ? BITRATES[layer - 1] : BITRATES[layer === 1 ? 3 : 4];
  const kbps = table?.[bitrateIndex - 1];
  if (kbps === undefined) return null;
  const bitrate = kbps * 1000;
  const samplesPerFrame = layer === 1 ? 384 : layer === 3 && !mpeg1 ? 576 : 1152;
  const padding = (b2 >> 1) & 1;
  const length = Math.floor((samplesPerFrame / 8) * bitrate / sampleRate) + padding * (layer === 1 ? 4 : 1);
  return { version, layer, mono: bytes.readUInt8(at + 3) >> 6 === 3, sampleRate, bitrate, samplesPerFrame, length };
}

/** A frame whose successor (if the buffer reaches it) is a frame of the same stream: one sync word alone is too easy to find in noise. */
function confirmedFrameAt(bytes: Buffer, at: number, fileEndInBuffer: boolean): Frame | null {
  const frame = frameAt(bytes, at);
  if (!frame) return null;
  const nextAt = at + frame.length;
  if (nextAt + 4 > bytes.length) return fileEndInBuffer && nextAt <= bytes.length ? frame : null;
  const next = frameAt(bytes, nextAt);
  return next && next.version === frame.version && next.layer === frame.layer && next.sampleRate === frame.sampleRate ? frame : null;
}

/**
 * Seconds of audio: from the frame count of a Xing/Info or VBRI tag (less LAME's encoder delay and
 * padding, as decoders trim them), else from the bytes after the first frame at its bitrate.
 */
export async function mp3Duration(file: FileWindow): Promise<number | null> {
  const start = await id3v2Length(file);
  const end = file.size - (await id3v1Length(file));
  if (start >= end) throw new AudioDecodeError('the MP3 file holds only tags, no audio frames');
  // Room for two of the longest frames (layer II, 384 kbit/s at 32 kHz: 1,729 bytes) past the search.
  const window = await file.read(start, SEARCH_BYTES + 2 * 2048);
  const windowReachesEnd = start + window.length >= end;
  let at = -1;
  let frame: Frame | null = null;
  for (let i = 0; i <= Math.min(SEARCH_BYTES, window.length - 4); i++) {
    frame = confirmedFrameAt(window, i, windowReachesEnd);
    if (frame) {
      at = i;
      break;
    }
  }
  if (!frame) throw new AudioDecodeError('no MPEG audio frame was found where the audio should start');

  const tagged = taggedSamples(window, at, frame);
  if (tagged) {
    let seconds = tagged.samples / frame.sampleRate;
    // A tag written before the file was cut claims bytes it no longer has.
    const audioBytes = end - (start + at);
    if (tagged.bytes > 0 && audioBytes < tagged.bytes) seconds *= audioBytes / tagged.bytes;
    return Math.max(0, seconds);
  }
  return ((end - (start + at)) * 8) / frame.bitrate;
}

/** Samples (and stream bytes, 0 if not given) that a Xing/Info or VBRI tag in the first frame announces. */
function taggedSamples(bytes: Buffer, at: number, frame: Frame): { samples: number; bytes: number } | null {
  const sideInfo = frame.version === 3 ? (frame.mono ? 17 : 32) : frame.mono ? 9 : 17;
  const xing = at + 4 + sideInfo;
  const id = bytes.toString('latin1', xing, xing + 4);
  if ((id === 'Xing' || id === 'Info') && xing + 8 <= bytes.length) {
    const flags = bytes.readUInt32BE(xing + 4);
    let field = xing + 8;
    const read = () => {
      const value = field + 4 <= bytes.length ? bytes.readUInt32BE(field) : 0;
      field += 4;
      return value;
    };
    const frames = flags & 1 ? read() : 0;
    const streamBytes = flags & 2 ? read() : 0;
    if (flags & 4) field += 100;
    if (flags & 8) field += 4;
    if (frames === 0) return null;
    let samples = frames * frame.samplesPerFrame;
    // LAME's extension (ffmpeg writes it too, signed Lavf/Lavc): 12 bits of encoder delay and 12 of
    // padding, 21 bytes after the encoder's name.
    if (GAPLESS_ENCODERS.has(bytes.toString('latin1', field, field + 4)) && field + 24 <= bytes.length) {
      const gap = bytes.readUIntBE(field + 21, 3);
      samples -= (gap >> 12) + (gap & 0xfff);
    }
    return { samples, bytes: streamBytes };
  }
  const vbri = at + 4 + 32;
  if (bytes.toString('latin1', vbri, vbri + 4) === 'VBRI' && vbri + 18 <= bytes.length) {
    const frames = bytes.readUInt32BE(vbri + 14);
    return frames === 0 ? null : { samples: frames * frame.samplesPerFrame, bytes: bytes.readUInt32BE(vbri + 10) };
  }
  return null;
}
