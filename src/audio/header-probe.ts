/**
 * Cheap upload-time check of an audio file: its container header is parsed in JS (a few KB read from
 * the start and, for Ogg, the end) to prove it is well-formed and to read its duration. No process
 * is started; the full decode is left to the transcription job.
 */

import { AudioDecodeError, NO_AUDIO } from './decode.js';
import { bufferWindow, withFileWindow, type FileWindow, type KnownHead } from './headers/file-window.js';
import { flacDuration } from './headers/flac.js';
import { mp3Duration } from './headers/mp3.js';
import { mp4Duration } from './headers/mp4.js';
import { oggDuration } from './headers/ogg.js';
import { wavDuration } from './headers/wav.js';
import { canonicalAudioType } from './sniff.js';

type HeaderParser = (file: FileWindow) => Promise<number | null>;

/** By canonical sniffed type. WebM/Matroska is absent: browsers' recorders write no duration there. */
const PARSERS: Readonly<Record<string, HeaderParser>> = {
  'audio/wav': wavDuration,
  'audio/flac': flacDuration,
  'audio/mpeg': mp3Duration,
  'audio/ogg': oggDuration,
  'audio/mp4': mp4Duration,
};

/**
 * Seconds of audio according to the header of a file of (sniffed) type `mime`. Null when the header
 * cannot tell (a type we do not parse, a FLAC stream of unknown length, a compressed WAV…): the
 * caller must then decode. Rejects with AudioDecodeError when the header is corrupt or truncated, or
 * announces no audio; with other errors only for I/O problems. `known` (the file's first bytes and
 * size, when the caller has them) spares opening the file for headers that fit in it.
 */
export function probeAudioHeader(file: string, mime: string, known?: KnownHead): Promise<number | null> {
  const parser = PARSERS[canonicalAudioType(mime)];
  if (!parser) return Promise.resolve(null);
  return withFileWindow(file, (window) => parse(parser, window), known);
}

/** probeAudioHeader on bytes in memory. */
export function probeAudioHeaderBytes(bytes: Buffer, mime: string): Promise<number | null> {
  const parser = PARSERS[canonicalAudioType(mime)];
  return parser ? parse(parser, bufferWindow(bytes)) : Promise.resolve(null);
}

async function parse(parser: HeaderParser, window: FileWindow): Promise<number | null> {
  let seconds: number | null;
  try {
    seconds = await parser(window);
  } catch (error) {
    // A length field pointing past what was read: the header is cut short, not our bug.
    if (error instanceof RangeError) throw new AudioDecodeError('the header is truncated', { cause: error });
    throw error;
  }
  if (seconds === null) return null;
  if (!Number.isFinite(seconds) || seconds < 0) throw new AudioDecodeError('the header declares an impossible duration');
  if (seconds === 0) throw new AudioDecodeError(NO_AUDIO);
  return seconds;
}
