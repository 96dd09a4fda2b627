/**
 * Where ffmpeg's raw PCM goes: counted, or written to a WAV file, and in both cases refused past a
 * byte cap. The cap is exact, unlike ffmpeg's own -fs, which stops only after the packet that
 * crosses it: resampling a 1 Hz WAV turns one packet into 65 MB, 185 times a 10 s cap.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { wavHeader } from './wav.js';

export interface PcmCap {
  maxBytes: number;
  /** The error a write past the cap fails with (it ends the pipe and kills ffmpeg). */
  tooMuch: () => Error;
}

const HEADER_BYTES = 44;

/** Counts the PCM and keeps none of it. */
export class PcmCounter extends Writable {
  bytes = 0;

  constructor(private readonly cap?: PcmCap) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.bytes += chunk.length;
    callback(this.cap && this.bytes > this.cap.maxBytes ? this.cap.tooMuch() : null);
  }
}

/** Writes mono 16-bit PCM into a new file behind a WAV header, whose sizes are filled in at the end. */
export class WavFileWriter extends Writable {
  /** Sample bytes written so far. */
  bytes = 0;
  private handle: FileHandle | undefined;

  constructor(
    private readonly file: string,
    private readonly sampleRate: number,
    private readonly cap?: PcmCap,
  ) {
    super();
  }

  override _construct(callback: (error?: Error | null) => void): void {
    open(this.file, 'wx')
      .then(async (handle) => {
        this.handle = handle;
        await writeAll(handle, wavHeader(0, this.sampleRate), 0);
      })
      .then(() => callback(), callback);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.cap && this.bytes + chunk.length > this.cap.maxBytes) {
      callback(this.cap.tooMuch());
      return;
    }
    const position = HEADER_BYTES + this.bytes;
    this.bytes += chunk.length;
    writeAll(this.handle!, chunk, position).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    writeAll(this.handle!, wavHeader(this.bytes - (this.bytes % 2), this.sampleRate), 0).then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const handle = this.handle;
    this.handle = undefined;
    if (!handle) {
      callback(error);
      return;
    }
    handle.close().then(
      () => callback(error),
      (closeError: unknown) => callback(error ?? (closeError as Error)),
    );
  }
}

async function writeAll(handle: FileHandle, buffer: Buffer, position: number): Promise<void> {
  for (let done = 0; done < buffer.length; ) {
    const { bytesWritten } = await handle.write(buffer, done, buffer.length - done, position + done);
    done += bytesWritten;
  }
}
