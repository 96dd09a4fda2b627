import { open, type FileHandle } from 'node:fs/promises';

/**
 * Makes a rename into `dir` durable: without it a crash can leave the directory entry unwritten.
 * Best effort: some platforms and filesystems (Windows) refuse fsync on a directory, and the rename
 * itself has happened either way.
 */
export async function syncDir(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // not supported here; see above
  } finally {
    await handle?.close().catch(() => {});
  }
}
