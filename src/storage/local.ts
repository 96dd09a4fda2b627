import { randomUUID } from 'node:crypto';
import type { WriteStream } from 'node:fs';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { syncDir } from './sync-dir.js';
import { folderFailure } from './unavailable.js';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  assertSafeKey,
  BlobNotFoundError,
  type BlobRange,
  type BlobReadResult,
  type BlobStore,
  type StoredBlob,
} from './blob-store.js';

const TMP_DIR = '.tmp';
/** Temp files older than this belong to writes that died with their process. */
const STALE_TMP_MS = 60 * 60 * 1000;

/**
 * Blobs as files under one folder. Writes go to `${dir}/.tmp/` first and are renamed into place
 * once complete and fsynced, so a reader never sees half a file and a failed write leaves nothing.
 */
export class LocalBlobStore implements BlobStore {
  readonly kind = 'local' as const;
  readonly dir: string;
  private readonly tmpDir: string;
  private prepared: Promise<void> | undefined;

  constructor(dir: string) {
    this.dir = path.resolve(dir);
    this.tmpDir = path.join(this.dir, TMP_DIR);
  }

  async put(
    key: string,
    body: Readable,
    options: { contentType?: string; signal?: AbortSignal } = {},
  ): Promise<StoredBlob> {
    const target = this.pathFor(key);
    const { signal } = options;
    signal?.throwIfAborted();
    // An error the body emits while we set up must not go unhandled (and crash the process);
    // pipeline() still sees it through body.errored.
    const swallow = (): void => {};
    body.on('error', swallow);
    let tmp: string | undefined;
    let file: WriteStream | undefined;
    try {
      tmp = path.join(this.tmpDir, `${randomUUID()}.part`);
      // flush: the stream fsyncs before it closes, and pipeline() waits for that close.
      file = (await this.openTemp(tmp)).createWriteStream({ flush: true });
      let size = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          size += chunk.length;
          callback(null, chunk);
        },
      });
      try {
        await pipeline(body, counter, file, { signal });
      } catch (err) {
        // pipeline() wraps an abort in its own AbortError; callers want the reason they gave.
        if (signal?.aborted) throw signal.reason;
        throw err;
      }
      signal?.throwIfAborted();
      await mkdir(path.dirname(target), { recursive: true });
      await renameIntoPlace(tmp, target);
      tmp = undefined;
      await syncDir(path.dirname(target));
      return { key, size };
    } catch (err) {
      // Nothing reads the body any more: release whatever feeds it (a client's request, a file).
      if (!body.destroyed) body.destroy();
      throw folderFailure(err);
    } finally {
      body.off('error', swallow);
      if (tmp !== undefined) {
        // A destroyed stream may still be opening its file: removing it before then would miss it.
        if (file && !file.closed) await new Promise<void>((resolve) => file?.once('close', () => resolve()));
        await rm(tmp, { force: true }).catch(() => {});
      }
    }
  }

  /** A rename when the file is on the same filesystem (an upload's temp file): no second copy. */
  async putFile(key: string, source: string): Promise<StoredBlob> {
    const target = this.pathFor(key);
    try {
      await this.prepare();
      const handle = await open(source, 'r+');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      const { size } = await stat(source);
      await mkdir(path.dirname(target), { recursive: true });
      try {
        await renameIntoPlace(source, target);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
        return await this.put(key, createReadStream(source));
      }
      await syncDir(path.dirname(target));
      return { key, size };
    } catch (err) {
      throw folderFailure(err);
    } finally {
      await rm(source, { force: true }).catch(() => {});
    }
  }

  /** Where uploads should be staged so putFile() can rename them: the same filesystem. */
  stagingDir(): string {
    return path.join(this.tmpDir, 'uploads');
  }

  async get(key: string, range?: BlobRange): Promise<BlobReadResult> {
    const file = this.pathFor(key);
    if (range) checkRange(range);
    let handle: FileHandle;
    try {
      handle = await open(file, 'r');
    } catch (err) {
      if (await this.absent(err)) throw new BlobNotFoundError(key);
      throw folderFailure(err);
    }
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw new BlobNotFoundError(key);
      const size = info.size;
      if (range && range.start >= size) {
        throw new RangeError(`range ${range.start}-${range.end} not satisfiable for ${size} bytes`);
      }
      const stream = handle.createReadStream(
        range ? { start: range.start, end: Math.min(range.end, size - 1) } : {},
      );
      return { stream, size, contentType: null };
    } catch (err) {
      await handle.close();
      if (isDirectoryError(err)) throw new BlobNotFoundError(key);
      throw err;
    }
  }

  async stat(key: string): Promise<{ size: number } | null> {
    const file = this.pathFor(key);
    try {
      const info = await stat(file);
      return info.isFile() ? { size: info.size } : null;
    } catch (err) {
      if (await this.absent(err)) return null;
      throw folderFailure(err);
    }
  }

  async delete(key: string): Promise<void> {
    const file = this.pathFor(key);
    try {
      await unlink(file);
    } catch (err) {
      if ((await this.absent(err)) || isDirectoryError(err)) return;
      throw folderFailure(err);
    }
    // Remove folders the blob leaves empty, never the store's own folder.
    let folder = path.dirname(file);
    while (folder !== this.dir && folder.startsWith(this.dir + path.sep)) {
      try {
        await rmdir(folder);
      } catch {
        break; // not empty (ENOTEMPTY/EEXIST), already gone, or not ours to remove
      }
      folder = path.dirname(folder);
    }
  }

  async ping(): Promise<void> {
    await this.prepare();
    const probe = path.join(this.tmpDir, `ping-${randomUUID()}`);
    const handle = await open(probe, 'wx');
    try {
      await handle.writeFile('ok');
    } finally {
      await handle.close();
      await rm(probe, { force: true });
    }
  }

  /** Absolute path of a key; throws for keys that are not plain relative paths inside the store. */
  private pathFor(key: string): string {
    assertSafeKey(key);
    const segments = key.split('/');
    if (segments.some((s) => s === '' || s === '.') || segments[0] === TMP_DIR) {
      throw new Error(`unsafe blob key: ${JSON.stringify(key)}`);
    }
    return path.join(this.dir, ...segments);
  }

  /**
   * Whether a failed lookup means the blob is absent. ENOTDIR does when a key's folder is a file,
   * not when the store's own folder is: that store cannot be used at all.
   */
  private async absent(err: unknown): Promise<boolean> {
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'ENOENT') return true;
    if (code !== 'ENOTDIR') return false;
    const info = await stat(this.dir).catch(() => null);
    return info?.isDirectory() === true;
  }

  /** Creates a temp file; a temp folder removed behind the store's back is made again, once. */
  private async openTemp(file: string): Promise<FileHandle> {
    await this.prepare();
    try {
      return await open(file, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.prepared = undefined;
      await this.prepare();
      return open(file, 'wx');
    }
  }

  /** Creates the folders and clears stale temp files, once per store (retried after a failure). */
  private prepare(): Promise<void> {
    this.prepared ??= (async () => {
      await mkdir(this.tmpDir, { recursive: true });
      await clearStaleTemp(this.tmpDir, Date.now() - STALE_TMP_MS);
    })().catch((err: unknown) => {
      this.prepared = undefined;
      throw err;
    });
    return this.prepared;
  }
}

async function clearStaleTemp(tmpDir: string, olderThan: number): Promise<void> {
  for (const name of await readdir(tmpDir)) {
    const file = path.join(tmpDir, name);
    try {
      const info = await stat(file);
      if (info.mtimeMs < olderThan) await rm(file, { recursive: true, force: true });
    } catch {
      // vanished meanwhile, or unreadable: neither should stop the store from working
    }
  }
}

/** rename(), recreating the parent if a concurrent delete() removed it as empty in between. */
async function renameIntoPlace(from: string, to: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await rename(from, to);
      return;
    } catch (err) {
      if (attempt >= 3 || (err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await mkdir(path.dirname(to), { recursive: true });
    }
  }
}


function checkRange(range: BlobRange): void {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new RangeError(`invalid byte range ${start}-${end}`);
  }
}

function isDirectoryError(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'EISDIR';
}
