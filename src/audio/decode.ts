/** Any audio ffmpeg can read → the 16 kHz mono 16-bit PCM WAV every engine takes. */

import { randomUUID } from 'node:crypto';
import { mkdir, open, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { PcmAudio } from '../transcription/engines/engine.js';
import { FfmpegError, runFfmpeg } from './ffmpeg.js';

export const DECODED_SAMPLE_RATE = 16_000;
/** 16 kHz × 1 channel × 2 bytes. */
const BYTES_PER_SECOND = DECODED_SAMPLE_RATE * 2;

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
  { signal }: { signal?: AbortSignal } = {},
): Promise<PcmAudio> {
  const input = path.resolve(inputPath);
  // A missing input is our bug, not undecodable audio: let ENOENT through as it is.
  if (!(await stat(input)).isFile()) throw new Error(`${inputPath} is not a file`);
  await mkdir(outputDir, { recursive: true });
  const wavPath = path.join(path.resolve(outputDir), `${randomUUID()}.wav`);

  try {
    await runFfmpeg(
      ffmpeg,
      [
        // file: keeps ffmpeg from reading a name as a protocol (pipe:, concat:, http:).
        '-i', `file:${input}`,
        '-vn', '-sn', '-dn',
        '-ac', '1',
        '-ar', String(DECODED_SAMPLE_RATE),
        '-c:a', 'pcm_s16le',
        // No LIST/INFO chunk with the encoder version: a plain 44-byte header.
        '-bitexact',
        '-f', 'wav',
        '-y', `file:${wavPath}`,
      ],
      { signal },
    );
    const bytes = await wavDataBytes(wavPath);
    if (bytes === 0) throw new AudioDecodeError(NO_AUDIO);
    return { wavPath, durationSeconds: bytes / BYTES_PER_SECOND };
  } catch (error) {
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
  { signal }: { signal?: AbortSignal } = {},
): Promise<{ durationSeconds: number }> {
  const input = path.resolve(inputPath);
  if (!(await stat(input)).isFile()) throw new Error(`${inputPath} is not a file`);
  let bytes = 0;
  try {
    await runFfmpeg(
      ffmpeg,
      ['-i', `file:${input}`, '-vn', '-sn', '-dn', '-ac', '1', '-ar', String(DECODED_SAMPLE_RATE), '-f', 's16le', 'pipe:1'],
      { signal, onStdout: (chunk) => (bytes += chunk.length) },
    );
  } catch (error) {
    throw asDecodeError(error);
  }
  if (bytes < 2) throw new AudioDecodeError(NO_AUDIO);
  return { durationSeconds: (bytes - (bytes % 2)) / BYTES_PER_SECOND };
}

function asDecodeError(error: unknown): unknown {
  if (!(error instanceof FfmpegError) || error.exitCode === null) return error;
  if (/does not contain any stream/i.test(error.stderr)) return new AudioDecodeError(NO_AUDIO, { cause: error });
  if (ENVIRONMENT_FAILURES.test(error.reason)) return error;
  return new AudioDecodeError(error.reason, { cause: error });
}

/** Size of the WAV's data chunk, from its header and the file size (streaming writers leave 0). */
async function wavDataBytes(file: string): Promise<number> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const head = Buffer.alloc(Math.min(size, 64 * 1024));
    await handle.read(head, 0, head.length, 0);
    if (head.length < 12 || head.toString('ascii', 0, 4) !== 'RIFF' || head.toString('ascii', 8, 12) !== 'WAVE') {
      throw new Error('ffmpeg did not write a RIFF/WAVE file');
    }
    let offset = 12;
    while (offset + 8 <= head.length) {
      const id = head.toString('ascii', offset, offset + 4);
      const declared = head.readUInt32LE(offset + 4);
      const body = offset + 8;
      if (id === 'data') {
        const available = size - body;
        const bytes = declared === 0 || declared > available ? available : declared;
        return bytes - (bytes % 2);
      }
      offset = body + declared + (declared % 2);
    }
    return 0;
  } finally {
    await handle.close();
  }
}
