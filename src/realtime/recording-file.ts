/**
 * The whole session's audio as a 16 kHz mono PCM16 WAV on disk, appended as it arrives (never held
 * in memory); the header's sizes are written when it is finished.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { wavHeader } from '../audio/wav.js';
import { pcmBytes, SESSION_RATE } from './audio-format.js';

export class RecordingFile {
  private bytes = 0;
  /** Appends run one after another, in order. */
  private chain: Promise<void> = Promise.resolve();
  private failure: Error | null = null;

  private constructor(
    readonly path: string,
    private readonly file: FileHandle,
  ) {}

  static async create(path: string): Promise<RecordingFile> {
    const file = await open(path, 'w');
    await file.write(wavHeader(0, SESSION_RATE));
    return new RecordingFile(path, file);
  }

  get seconds(): number {
    return this.bytes / 2 / SESSION_RATE;
  }

  append(samples: Int16Array): void {
    if (samples.length === 0) return;
    const data = pcmBytes(samples);
    this.bytes += data.length;
    this.chain = this.chain.then(async () => {
      if (this.failure) return;
      try {
        await this.file.write(data);
      } catch (error) {
        this.failure = error instanceof Error ? error : new Error(String(error));
      }
    });
  }

  /** Writes the final header and closes the file; rejects if any append failed. */
  async finish(): Promise<void> {
    await this.chain;
    try {
      if (!this.failure) await this.file.write(wavHeader(this.bytes, SESSION_RATE), 0, 44, 0);
    } finally {
      await this.file.close();
    }
    if (this.failure) throw this.failure;
  }

  /** Closes without caring for the contents (the file is about to be deleted). */
  async discard(): Promise<void> {
    await this.chain;
    await this.file.close().catch(() => undefined);
  }
}
