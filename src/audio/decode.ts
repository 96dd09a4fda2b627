/** Any audio ffmpeg can read → the 16 kHz mono 16-bit PCM WAV every engine takes. */

import { randomUUID } from 'node:crypto';
import { mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Writable } from 'node:stream';
import type { PcmAudio } from '../transcription/engines/engine.js';
import { audioTooLong } from './duration-limit.js';
import { FfmpegError, runFfmpeg } from './ffmpeg.js';
import { PcmCounter, WavFileWriter, type PcmCap } from './pcm-sink.js';

export const DECODED_SAMPLE_RATE = 16_000;
/** 16 kHz × 1 channel × 2 bytes. */
const BYTES_PER_SECOND = DECODED_SAMPLE_RATE * 2;
/** Decoded past a limit, so that audio longer than it can be told from audio exactly at it. */
const OVERRUN_SECONDS = 1;
const WAV_HEADER_BYTES = 44;

export interface DecodeOptions {
  signal?: AbortSignal;
  /**
   * Longest audio to accept; the call then rejects with the 413 audio_too_long AppError. ffmpeg
   * stops just past it (-t), and the PCM it sends is cut off there however its timestamps lie, so
   * a header that understates the length cannot make it write more than decodedWavBound().
   */
  maxSeconds?: number;
}

/** The cut-off for `maxSeconds`: that much audio and one second more. */
function capFor(maxSeconds: number | undefined): { args: string[]; cap?: PcmCap } {
  if (maxSeconds === undefined) return { args: [] };
  const seconds = maxSeconds + OVERRUN_SECONDS;
  return {
    args: ['-t', String(seconds)],
    cap: { maxBytes: Math.ceil(seconds * BYTES_PER_SECOND), tooMuch: () => audioTooLong(maxSeconds) },
  };
}

/** The most a WAV decoded with `maxSeconds` takes on disk. */
export function decodedWavBound(maxSeconds: number): number {
  return WAV_HEADER_BYTES + (capFor(maxSeconds).cap?.maxBytes ?? 0);
}

export const NO_AUDIO = 'the file contains no audio';

/** The input cannot be turned into audio: permanent, retrying will not help. */
export class AudioDecodeError extends Error {
  constructor(
    /** Why, in ffmpeg's words (or NO_AUDIO); safe to show: no server paths. */
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`The audio could not be decoded: ${reason}`, options);
    this.name = 'AudioDecodeError';
  }
}

/** ffmpeg failures that are the server's problem, not the file's: they stay FfmpegErrors. */
const ENVIRONMENT_FAILURES =
  /No space left on device|Permission denied|Cannot allocate memory|Too many open files|Read-only file system|Disk quota exceeded/i;

/**
 * Decodes `inputPath` into a new WAV under `outputDir` (created if missing). The duration comes from
 * the decoded data (bytes / 32000), never from container metadata. Rejects with AudioDecodeError
 * for input that does not decode or holds no audio, with the abort reason when `signal` fires, and
 * with other errors (FfmpegError, a missing ffmpeg or input file) for problems of this machine; the
 * output file never outlives a failure.
 */
export async function decodeToWav(
  ffmpeg: string,
  inputPath: string,
  outputDir: string,
  { signal, maxSeconds }: DecodeOptions = {},
): Promise<PcmAudio> {
  const input = path.resolve(inputPath);
  // A missing input is our bug, not undecodable audio: let ENOENT through as it is.
  if (!(await stat(input)).isFile()) throw new Error(`${inputPath} is not a file`);
  await mkdir(outputDir, { recursive: true });
  const wavPath = path.join(path.resolve(outputDir), `${randomUUID()}.wav`);
  const { args, cap } = capFor(maxSeconds);
  // ffmpeg sends raw PCM and the WAV is written here: the cap then holds to the byte.
  const wav = new WavFileWriter(wavPath, DECODED_SAMPLE_RATE, cap);

  try {
    await runFfmpeg(
      ffmpeg,
      [
        // file: keeps ffmpeg from reading a name as a protocol (pipe:, concat:, http:).
        '-i', `file:${input}`,
        '-vn', '-sn', '-dn',
        '-ac', '1',
        '-ar', String(DECODED_SAMPLE_RATE),
        ...args,
        '-f', 's16le', 'pipe:1',
      ],
      { signal, stdout: wav },
    );
    const bytes = wav.bytes - (wav.bytes % 2);
    if (bytes === 0) throw new AudioDecodeError(NO_AUDIO);
    const durationSeconds = bytes / BYTES_PER_SECOND;
    if (maxSeconds !== undefined && durationSeconds > maxSeconds) throw audioTooLong(maxSeconds);
    return { wavPath, durationSeconds };
  } catch (error) {
    // Closed first: a writer still opening its file would otherwise create it after the rm.
    await closed(wav);
    await rm(wavPath, { force: true });
    throw asDecodeError(error);
  }
}

/**
 * Proves a file decodes and measures it without writing the decoded audio anywhere: ffmpeg
 * streams 16 kHz mono PCM to a pipe and only its length is kept. Same errors as decodeToWav.
 */
export async function measureAudio(
  ffmpeg: string,
  inputPath: string,
  { signal, maxSeconds }: DecodeOptions = {},
): Promise<{ durationSeconds: number }> {
  const input = path.resolve(inputPath);
  if (!(await stat(input)).isFile()) throw new Error(`${inputPath} is not a file`);
  const { args, cap } = capFor(maxSeconds);
  const counter = new PcmCounter(cap);
  try {
    await runFfmpeg(
      ffmpeg,
      [
        '-i', `file:${input}`,
        '-vn', '-sn', '-dn',
        '-ac', '1',
        '-ar', String(DECODED_SAMPLE_RATE),
        ...args,
        '-f', 's16le', 'pipe:1',
      ],
      { signal, stdout: counter },
    );
  } catch (error) {
    throw asDecodeError(error);
  }
  const bytes = counter.bytes - (counter.bytes % 2);
  if (bytes === 0) throw new AudioDecodeError(NO_AUDIO);
  const durationSeconds = bytes / BYTES_PER_SECOND;
  if (maxSeconds !== undefined && durationSeconds > maxSeconds) throw audioTooLong(maxSeconds);
  return { durationSeconds };
}

function closed(stream: Writable): Promise<void> {
  if (stream.closed) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('close', () => resolve());
    stream.destroy();
  });
}

function asDecodeError(error: unknown): unknown {
  if (!(error instanceof FfmpegError) || error.exitCode === null) return error;
  if (/does not contain any stream/i.test(error.stderr)) return new AudioDecodeError(NO_AUDIO, { cause: error });
  if (ENVIRONMENT_FAILURES.test(error.reason)) return error;
  return new AudioDecodeError(error.reason, { cause: error });
}
