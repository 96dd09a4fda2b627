/** Duration of a RIFF/WAVE file from its fmt and data chunks. */

import { AudioDecodeError } from '../decode.js';
import type { FileWindow } from './file-window.js';

/** Sample formats whose length is exactly data bytes ÷ block size: PCM, IEEE float, A-law, µ-law, and their extensible form. */
const FIXED_FRAME_FORMATS = new Set([0x0001, 0x0003, 0x0006, 0x0007, 0xfffe]);
/** LIST, bext, JUNK… come before data in real files; a few dozen is plenty, thousands means garbage. */
const MAX_CHUNKS = 64;

interface WavFormat {
  tag: number;
  channels: number;
  sampleRate: number;
  blockAlign: number;
}

/**
 * Seconds of audio, counting only the data bytes really present (a header may claim more than the
 * file holds, and streaming writers leave the size at 0 or 0xFFFFFFFF). Null for compressed WAV
 * (ADPCM, MP3-in-WAV…), whose length the header does not give exactly.
 */
export async function wavDuration(file: FileWindow): Promise<number | null> {
  const riff = await file.read(0, 12);
  if (riff.length < 12 || riff.toString('latin1', 8, 12) !== 'WAVE') throw new AudioDecodeError('the WAV header is truncated');
  // RF64 and other RIFF cousins: leave them to ffmpeg.
  if (riff.toString('latin1', 0, 4) !== 'RIFF') return null;

  let format: WavFormat | null = null;
  let offset = 12;
  for (let chunks = 0; chunks < MAX_CHUNKS && offset + 8 <= file.size; chunks++) {
    const header = await file.read(offset, 8);
    const id = header.toString('latin1', 0, 4);
    const declared = header.readUInt32LE(4);
    const body = offset + 8;
    if (id === 'fmt ') {
      format = parseFormat(await file.read(body, Math.min(declared, 40)));
    } else if (id === 'data') {
      if (!format) throw new AudioDecodeError('the WAV data chunk comes before its fmt chunk');
      if (!FIXED_FRAME_FORMATS.has(format.tag)) return null;
      const available = file.size - body;
      const bytes = declared === 0 || declared > available ? available : declared;
      return Math.floor(bytes / format.blockAlign) / format.sampleRate;
    }
    offset = body + declared + (declared % 2);
  }
  throw new AudioDecodeError(format ? 'the WAV file has no data chunk' : 'the WAV header has no fmt chunk');
}

function parseFormat(body: Buffer): WavFormat {
  if (body.length < 16) throw new AudioDecodeError('the WAV fmt chunk is truncated');
  const format = {
    tag: body.readUInt16LE(0),
    channels: body.readUInt16LE(2),
    sampleRate: body.readUInt32LE(4),
    blockAlign: body.readUInt16LE(12),
  };
  if (format.channels === 0) throw new AudioDecodeError('the WAV header declares no channels');
  if (format.sampleRate === 0) throw new AudioDecodeError('the WAV header declares a sample rate of 0');
  if (format.blockAlign === 0) throw new AudioDecodeError('the WAV header declares a block size of 0');
  return format;
}
