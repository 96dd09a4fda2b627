import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AudioDecodeError } from '../audio/decode.js';
import { uploadDecoders, type ConcurrencyLimiter } from '../audio/limiter.js';
import { isAllowedAudioType, sniffAudio, SNIFF_BYTES, type SniffedAudio } from '../audio/sniff.js';
import { AppError } from '../http/errors.js';
import { ownedName, UPLOAD_TEMP } from '../process/leftovers.js';
import type { UploadScanner } from '../scanning/upload-scanner.js';
import type { BlobStore } from '../storage/blob-store.js';
import { folderFailure } from '../storage/unavailable.js';
import { measureUpload } from './audio-measure.js';

/** A received file, checked and measured, in a temp file until it is stored. */
export interface ReceivedAudio {
  tempPath: string;
  size: number;
  sha256: string;
  type: SniffedAudio;
  durationSeconds: number;
}

export interface AudioIntakeOptions {
  allowedTypes: readonly string[];
  ffmpeg: () => Promise<string>;
  /** MAX_AUDIO_DURATION_SECONDS: longer audio is refused with 413 audio_too_long. */
  maxDurationSeconds: number;
  tempDir?: string;
  /** Bounds the uploads decoded by ffmpeg at once; the process-wide limiter when unset. */
  decoders?: ConcurrencyLimiter;
  /** CLAMAV_URL's malware scan; none when unset. */
  scanner?: UploadScanner;
}

/**
 * Counts, hashes and sniffs bytes as they pass, so the file is never held in memory; stops the
 * stream with 415 as soon as the first bytes show it is not an allowed audio type.
 */
class Inspector extends Transform {
  readonly hash = createHash('sha256');
  size = 0;
  sniffed: SniffedAudio | null = null;
  /** The bytes that were sniffed: header probes read them again from here instead of from disk. */
  firstBytes: Buffer = Buffer.alloc(0);
  private head: Buffer[] = [];
  private headBytes = 0;
  private decided = false;

  constructor(private readonly allowed: readonly string[]) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.size += chunk.length;
    this.hash.update(chunk);
    if (this.decided) {
      callback(null, chunk);
      return;
    }
    this.head.push(chunk);
    this.headBytes += chunk.length;
    if (this.headBytes < SNIFF_BYTES) {
      callback();
      return;
    }
    this.decide()
      .then(() => callback(null, this.firstBytes))
      .catch((error: unknown) => callback(error as Error));
  }

  override _flush(callback: TransformCallback): void {
    if (this.decided || this.headBytes === 0) {
      callback();
      return;
    }
    this.decide()
      .then(() => callback(null, this.firstBytes))
      .catch((error: unknown) => callback(error as Error));
  }

  private async decide(): Promise<void> {
    this.decided = true;
    this.firstBytes = Buffer.concat(this.head.splice(0));
    this.sniffed = await sniffAudio(this.firstBytes);
    if (!this.sniffed) {
      throw new AppError('unsupported_media_type', 'The file is not audio (its content was checked, not its name)');
    }
    if (!isAllowedAudioType(this.sniffed.mime, this.allowed)) {
      throw new AppError('unsupported_media_type', `Audio of type ${this.sniffed.mime} is not accepted here`);
    }
  }
}

export function uploadTempDir(options: Pick<AudioIntakeOptions, 'tempDir'>): string {
  return options.tempDir ?? path.join(tmpdir(), 'transcribo-uploads');
}

/**
 * Creates the temp file; its folder is made only when it is missing, not with every upload. A folder
 * that cannot be used (the local store's, unwritable or gone) is 503 storage_unavailable.
 */
async function createTempFile(dir: string, file: string): Promise<FileHandle> {
  try {
    return await open(file, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw folderFailure(error);
    await mkdir(dir, { recursive: true }).catch((mkdirError: unknown) => {
      throw folderFailure(mkdirError);
    });
    return open(file, 'wx');
  }
}

/**
 * Streams an uploaded file to a temp file, checking its type from its magic bytes and its container
 * header (or, for formats whose header does not tell, one bounded decode) to prove it is audio and to
 * measure it. Every failure removes what was written.
 */
export async function receiveAudio(source: Readable, options: AudioIntakeOptions): Promise<ReceivedAudio> {
  const dir = uploadTempDir(options);
  // Named with our pid, so that the next start removes it if this process dies while receiving.
  const tempPath = path.join(dir, ownedName(UPLOAD_TEMP));
  const inspector = new Inspector(options.allowedTypes);
  try {
    const file = await createTempFile(dir, tempPath);
    await pipeline(source, inspector, file.createWriteStream());
    if (inspector.size === 0) throw new AppError('bad_request', 'The file is empty');
    // Before ffmpeg reads it, and before anything is stored: a refused file only ever lived here.
    await options.scanner?.scanFile(tempPath, inspector.size);
    const type = inspector.sniffed!;
    const durationSeconds = await measureUpload(tempPath, type.mime, {
      ffmpeg: options.ffmpeg,
      decoders: options.decoders ?? uploadDecoders,
      maxSeconds: options.maxDurationSeconds,
      known: { head: inspector.firstBytes, size: inspector.size },
    }).catch((error: unknown) => {
      if (error instanceof AudioDecodeError) {
        throw new AppError('validation_failed', `The audio cannot be decoded: ${error.reason}`, [
          { field: 'file', message: error.reason },
        ]);
      }
      throw error;
    });
    return {
      tempPath,
      size: inspector.size,
      sha256: inspector.hash.digest('hex'),
      type,
      durationSeconds,
    };
  } catch (error) {
    // The rest of the body is not read: the answer closes the connection (http/unread-body.ts).
    // A folder that cannot be used fails the removal too; the first failure is the one to report.
    await rm(tempPath, { force: true }).catch(() => undefined);
    throw error;
  }
}

/** Moves a received file into the blob store; the temp file is removed either way. */
export async function storeAudio(store: BlobStore, key: string, audio: ReceivedAudio): Promise<void> {
  try {
    if (store.putFile) await store.putFile(key, audio.tempPath);
    else await store.put(key, createReadStream(audio.tempPath), { contentType: audio.type.mime });
  } finally {
    await rm(audio.tempPath, { force: true });
  }
}

/** Path separators and control characters never reach a title; the name is only a default label. */
export function titleFromFilename(filename: string | undefined): string {
  const base = (filename ?? '').split(/[\\/]/).pop() ?? '';
  // eslint-disable-next-line no-control-regex -- stripping control characters is the point
  const clean = base.replace(/[\u0000-\u001f\u007f]/g, '').trim().slice(0, 500);
  return clean === '' || clean === '.' || clean === '..' ? 'Untitled recording' : clean;
}
