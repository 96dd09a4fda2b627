/** Reads pieces of a file by offset: header parsers look at a few KB of the start and the end, never the whole. */

import { open, stat, type FileHandle } from 'node:fs/promises';

export interface FileWindow {
  readonly size: number;
  /** Up to `length` bytes at `offset`; shorter (or empty) past the end of the file. */
  read(offset: number, length: number): Promise<Buffer>;
}

/** What a caller already has of the file: its first bytes and its size (an upload has both in hand). */
export interface KnownHead {
  head: Buffer;
  size: number;
}

/** The longest single read a parser may ask for: headers are small, and a bad length field must not become a huge allocation. */
export const MAX_READ = 1024 * 1024;

function span(size: number, offset: number, length: number): { start: number; length: number } {
  const start = Math.max(0, Math.floor(offset));
  return { start, length: Math.max(0, Math.min(Math.floor(length), MAX_READ, size - start)) };
}

/** Serves reads from the known head when it covers them; opens the file only for the others. */
class LazyFileWindow implements FileWindow {
  private handle: Promise<FileHandle> | undefined;

  constructor(
    private readonly file: string,
    readonly size: number,
    private readonly head: Buffer,
  ) {}

  async read(offset: number, length: number): Promise<Buffer> {
    const wanted = span(this.size, offset, length);
    if (wanted.length === 0) return Buffer.alloc(0);
    if (wanted.start + wanted.length <= this.head.length) return this.head.subarray(wanted.start, wanted.start + wanted.length);
    this.handle ??= open(this.file, 'r');
    const buffer = Buffer.alloc(wanted.length);
    const { bytesRead } = await (await this.handle).read(buffer, 0, wanted.length, wanted.start);
    return buffer.subarray(0, bytesRead);
  }

  async close(): Promise<void> {
    const handle = await this.handle?.catch(() => undefined);
    await handle?.close();
  }
}

/** Lends `use` a window on `file` (its first bytes from `known`, when given), closing the file afterwards. */
export async function withFileWindow<T>(file: string, use: (window: FileWindow) => Promise<T>, known?: KnownHead): Promise<T> {
  const size = known?.size ?? (await stat(file)).size;
  const window = new LazyFileWindow(file, size, known?.head ?? Buffer.alloc(0));
  try {
    return await use(window);
  } finally {
    await window.close();
  }
}

/** A window over bytes already in memory: what tests and fuzzing feed the parsers. */
export function bufferWindow(bytes: Buffer): FileWindow {
  return {
    size: bytes.length,
    read: async (offset, length) => {
      const wanted = span(bytes.length, offset, length);
      return bytes.subarray(wanted.start, wanted.start + wanted.length);
    },
  };
}
